"""What a learner has done: the progress store (SQLite), the study log, the data folder."""
