"""Training, above the models: what we do to them.

    train         the training loop (one process, or many under torchrun)     distributed   DDP under torchrun
    distill       knowledge distillation                                        compress      int8, pruning
    translate     training and scoring a translator                            zoo           cached reference models
    probe_models  small GPTs trained with extra documents mixed in (chapter 08)
"""
