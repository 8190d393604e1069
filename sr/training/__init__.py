"""Training LIIF-EDSR: config, data, sampling, augmentation, samplers, loop, checkpoints."""
