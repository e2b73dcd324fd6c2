"""The self-check quizzes' questions, one module per chapter (chapter00 ... chapter08), each a list QUESTIONS of
plain dicts that `greenlab.presentation.quiz` reads and checks:

    {"ask": "...", "options": ["...", "...", "..."], "answer": "c", "why": "...", "see": "a heading of the notebook"}
    {"ask": "...", "answer": 1.2e18, "tolerance": 0.05, "why": "...", "see": "..."}   # a number question

`answer` is the right option's letter, or for a number question the number (right within `tolerance`, relative).
`why` is shown after a right reply; `see` names the section of the chapter's notebook that shows it. No question
states a measured figure (a time, an energy, a loss): those change with the machine; a number follows from a
formula the chapter teaches.
"""
