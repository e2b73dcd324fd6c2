"""Responsible AI, above the applications (chapter 08): what a model learns that it should not.

    bias          bias in, bias out: skewed data, the likelihood gap, counterfactual augmentation, rebalancing
    memorisation  canaries planted in the data, their exposure, and extraction
"""
