"""The quiz: questions from lesson traces, known mistakes, the safe answer parser, the session and its summary."""
