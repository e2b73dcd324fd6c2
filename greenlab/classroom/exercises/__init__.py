"""The checks of each lab, one module per lab: `from greenlab.classroom.exercises import lab00`.

Each `check_*` function takes the learner's function and returns a `greenlab.classroom.checks.CheckResult`.
"""
