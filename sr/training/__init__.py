"""Training LIIF-EDSR: config, image folders, patch samples, augmentation, batch plans, loop,
checkpoints."""
