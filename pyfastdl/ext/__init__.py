"""pyfastdl's own pieces: what the course builds but PyTorch has no name for.

Everything else in pyfastdl carries PyTorch's names, signatures and defaults; the names in this
namespace are ours, documented here so that nobody looks for them in PyTorch's docs:

- ``pyfastdl.ext.training``: checkpoints of a whole training run (model, optimizer, scheduler,
  epoch, random state) that resume bit for bit, early stopping, L1/L2 penalties.
- ``pyfastdl.ext.losses``: segmentation losses (Dice) and the U-Net paper's boundary weight map.
- ``pyfastdl.ext.envs``: the course's mouse-and-cheese grid game (``MouseGame``), with
  gymnasium's ``Env`` interface, its symmetries, a shortest-path oracle and a random policy.
- ``pyfastdl.ext.rl``: a replay buffer, epsilon-greedy schedules, the Bellman target
  (``q_learning_target``), target-network updates (``hard_update``, ``soft_update``).
- ``pyfastdl.ext.penalties``: the sparse autoencoder's penalties on hidden activations,
  ``l1_activity_penalty`` and the KL(rho || rho_hat) ``kl_sparsity_penalty``.
- ``pyfastdl.ext.vae``: the VAE's negative ELBO (``vae_loss``: Bernoulli reconstruction from
  logits + KL to N(0, I)) and the Gaussian KL term (``gaussian_kl``).
- ``pyfastdl.ext.gan_losses``: the GAN losses from the discriminator's logits,
  ``discriminator_loss``, ``minimax_generator_loss`` and ``non_saturating_generator_loss``.
"""
