/**
 * The fine-tuning handoff: a compressed model's factors as safetensors with a JSON manifest of every
 * layer (a linear layer's contraction, a convolution's chain of convolutions, a weight rebuilt at load),
 * for {@code handoff/blockterm_torch.py}, and tuned factors put back into the model by initializer name.
 */
package dev.blockterm.handoff;
