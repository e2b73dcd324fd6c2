"""Presentation, above every experiment: what the learner sees.

    plots, widgets  figures and ipywidgets shared by the notebooks
    report          `greenlab report`: the headline experiments as one Markdown report
    cards           model and dataset cards with their measured CO2eq
    machine         this machine's facts, the notebooks' setup cell, and `greenlab doctor`
    quiz            each chapter's self-check quiz; its questions are data in quizzes/
"""
