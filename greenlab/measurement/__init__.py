"""Measurement, the course's subject: what a piece of code costs, and how far the figure can be trusted.

    energy        measure(): time, energy (static and dynamic), CO2eq, FLOPs, and how the energy was obtained
    uncertainty   the range an energy figure lies in, by how it was obtained; whether two figures differ
    timing        interleaved rounds and their median: a busy machine slows every side alike
    grid          a country's carbon intensity and generation mix      claims   a time or energy claim, checked
    ledger        the green ledger of every run                         memory   peak memory of a block of code
    footprint     the training-cost calculator and the published figures
    counters      the energy counters this machine exposes, and how energy is obtained here
"""
