"""pyfastdl's own pieces: what the course builds but PyTorch has no name for.

Everything else in pyfastdl carries PyTorch's names, signatures and defaults; the names in this
namespace are ours, documented here so that nobody looks for them in PyTorch's docs:

- ``pyfastdl.ext.training``: checkpoints of a whole training run (model, optimizer, scheduler,
  epoch, random state) that resume bit for bit, early stopping, L1/L2 penalties.
- ``pyfastdl.ext.losses``: segmentation losses (Dice) and the U-Net paper's boundary weight map.
- ``pyfastdl.ext.envs``: the course's mouse-and-cheese grid game, with gymnasium's ``Env``
  interface.
- ``pyfastdl.ext.rl``: a replay buffer, epsilon-greedy schedules, target-network updates.
"""
