"""Training, above the models: what we do to them.

    train         the training loop (one process, or many under torchrun)     distributed   DDP under torchrun
    recipes       named recipes: a model and how to train it, as plain data   zoo           the recipes, trained once
    cache         one cache for every trained model: checksums, damage handling, one folder rule
    distill       knowledge distillation                                        compress      int8, pruning
    translate     training and scoring a translator                            probe_models  small GPTs (chapter 08)
"""
