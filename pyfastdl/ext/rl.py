"""The pieces of deep Q-learning that PyTorch has no name for. Ours.

- :class:`ReplayBuffer`: the last ``capacity`` transitions (s, a, r, s', terminated) in NumPy
  ring buffers, sampled uniformly in mini-batches (Mnih et al. 2015: sampling breaks the
  correlation of consecutive steps).
- :func:`linear_epsilon`, :func:`exponential_epsilon`: the decay of epsilon, the probability of a
  random action; :func:`epsilon_greedy` picks the action.
- :func:`q_learning_target`: the Bellman target y = r + gamma (1 - terminated) max_a' Q'(s', a'),
  optionally with the double-DQN choice of a' by the online network.
- :func:`hard_update` (copy the online network into the target network every C steps) and
  :func:`soft_update` (Polyak averaging, theta' <- tau theta + (1 - tau) theta' every step).

Example:
    >>> import numpy as np
    >>> from pyfastdl.ext.rl import ReplayBuffer, linear_epsilon
    >>> buffer = ReplayBuffer(100, obs_shape=(2,), seed=0)
    >>> for t in range(5):
    ...     buffer.push(np.full(2, t), t % 4, 0.5, np.full(2, t + 1), t == 4)
    >>> batch = buffer.sample(3)
    >>> len(buffer), batch.obs.shape, batch.action.dtype.name
    (5, (3, 2), 'int64')
    >>> linear_epsilon(500, start=1.0, end=0.1, decay_steps=1000)
    0.55
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import nn
from ..arrays import is_gpu
from ..autograd import no_grad
from ..tensor import Tensor

__all__ = [
    "Batch",
    "ReplayBuffer",
    "epsilon_greedy",
    "exponential_epsilon",
    "hard_update",
    "linear_epsilon",
    "q_learning_target",
    "soft_update",
]


class Batch(NamedTuple):
    """A mini-batch of transitions, NumPy arrays with the batch first: ``obs`` and ``next_obs``
    (B, *obs_shape), ``action`` int64 (B,), ``reward`` float32 (B,), ``terminated`` bool (B,)."""

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray


class ReplayBuffer:
    """The last ``capacity`` transitions in preallocated NumPy arrays (a ring: the newest
    overwrites the oldest), sampled uniformly with replacement.

    Store ``terminated`` (the game ended: no value after s'), not ``terminated or truncated``: a
    time limit cuts the episode but s' still has a future, so its target bootstraps.

    Args:
        capacity: the number of transitions kept.
        obs_shape: the shape of one observation.
        obs_dtype: their dtype (float32 by default).
        seed: the seed of the sampling generator.

    Example:
        >>> import numpy as np
        >>> from pyfastdl.ext.rl import ReplayBuffer
        >>> buffer = ReplayBuffer(2, obs_shape=(1,))
        >>> for t in range(3):  # the third push overwrites the first
        ...     buffer.push([t], 0, float(t), [t + 1], False)
        >>> len(buffer), sorted(buffer.reward[: len(buffer)].tolist())
        (2, [1.0, 2.0])
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        obs_dtype: np.dtype | type = np.float32,
        seed: int | None = None,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"[ReplayBuffer] capacity must be an int >= 1, got {capacity!r}")
        self.capacity = capacity
        self.obs_shape = tuple(obs_shape)
        self.obs = np.zeros((capacity, *self.obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.action = np.zeros(capacity, dtype=np.int64)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=bool)
        self._next = 0  # the slot of the next push
        self._size = 0
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self._size

    def push(
        self, obs: np.ndarray, action: int, reward: float, next_obs: np.ndarray, terminated: bool
    ) -> None:
        """Store one transition, overwriting the oldest when the buffer is full."""
        obs, next_obs = np.asarray(obs), np.asarray(next_obs)
        if obs.shape != self.obs_shape or next_obs.shape != self.obs_shape:
            raise ValueError(
                f"[ReplayBuffer] observations must have shape {self.obs_shape}, got "
                f"{obs.shape} and {next_obs.shape}"
            )
        i = self._next
        self.obs[i], self.next_obs[i] = obs, next_obs
        self.action[i], self.reward[i], self.terminated[i] = action, reward, terminated
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """``batch_size`` transitions drawn uniformly with replacement (copies)."""
        if self._size == 0:
            raise ValueError("[ReplayBuffer] sample() from an empty buffer")
        if batch_size < 1:
            raise ValueError(f"[ReplayBuffer] batch_size must be >= 1, got {batch_size}")
        idx = self._rng.integers(self._size, size=batch_size)
        return Batch(
            self.obs[idx], self.action[idx], self.reward[idx], self.next_obs[idx],
            self.terminated[idx],
        )  # fmt: skip


def linear_epsilon(
    step: int, start: float = 1.0, end: float = 0.05, decay_steps: int = 10_000
) -> float:
    """Epsilon falling linearly from ``start`` to ``end`` over ``decay_steps`` steps, then flat:
    end + (start - end) max(0, 1 - step / decay_steps).

    Example:
        >>> from pyfastdl.ext.rl import linear_epsilon
        >>> [linear_epsilon(s, 1.0, 0.1, 10) for s in (0, 5, 10, 20)]
        [1.0, 0.55, 0.1, 0.1]
    """
    if decay_steps < 1:
        raise ValueError(f"[linear_epsilon] decay_steps must be >= 1, got {decay_steps}")
    frac = max(0.0, 1.0 - step / decay_steps)
    # rounded to 12 digits so that logs read 0.55, not 0.55000000000000004
    return round(end + (start - end) * frac, 12)


def exponential_epsilon(
    step: int, start: float = 1.0, end: float = 0.05, decay: float = 0.999
) -> float:
    """Epsilon decaying geometrically towards ``end``: end + (start - end) decay^step.

    Example:
        >>> from pyfastdl.ext.rl import exponential_epsilon
        >>> round(exponential_epsilon(1000, 1.0, 0.0, 0.999), 4)  # 0.999^1000 ~ 1/e
        0.3677
    """
    if not 0.0 < decay <= 1.0:
        raise ValueError(f"[exponential_epsilon] decay must be in (0, 1], got {decay}")
    return end + (start - end) * decay**step


def epsilon_greedy(q_values: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """A random action with probability ``epsilon``, else the action of the largest of the
    ``q_values`` (one row, (A,)); ties go to the lower action.

    Example:
        >>> import numpy as np
        >>> from pyfastdl.ext.rl import epsilon_greedy
        >>> epsilon_greedy(np.array([0.1, 0.7, 0.3]), 0.0, np.random.default_rng(0))
        1
    """
    a = q_values.array if isinstance(q_values, Tensor) else q_values
    q_values = a.get() if is_gpu(a) else np.asarray(a)  # one row, read on the host
    if q_values.ndim != 1:
        raise ValueError(f"[epsilon_greedy] q_values must have 1 dim (A,), got {q_values.shape}")
    if rng.random() < epsilon:
        return int(rng.integers(q_values.shape[0]))
    return int(np.argmax(q_values))


def q_learning_target(
    reward: Tensor,
    next_q: Tensor,
    terminated: Tensor,
    gamma: float,
    next_q_online: Tensor | None = None,
) -> Tensor:
    """The Bellman target of Q-learning, without gradient:

        y = r + gamma (1 - terminated) Q'(s', a*),   a* = argmax_a' Q'(s', a')

    with Q' the target network (``next_q``, (B, A)); a terminal s' has no future, so y = r.
    With ``next_q_online`` (the online network on s'), a* = argmax_a' Q(s', a') instead: double
    DQN (van Hasselt et al. 2016), which curbs max's overestimation.

    Args:
        reward: (B,) rewards; terminated: (B,) bools (or 0/1); next_q: (B, A).

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl.ext.rl import q_learning_target
        >>> next_q = fd.tensor([[1.0, 2.0], [3.0, 0.0]])
        >>> q_learning_target(fd.tensor([0.5, -1.0]), next_q, fd.tensor([False, True]), 0.9)
        tensor([ 2.3, -1. ])
    """
    if next_q.ndim != 2 or reward.ndim != 1 or tuple(terminated.shape) != tuple(reward.shape):
        raise ValueError(
            "[q_learning_target] expected reward (B,), next_q (B, A), terminated (B,), got "
            f"{tuple(reward.shape)}, {tuple(next_q.shape)}, {tuple(terminated.shape)}"
        )
    if next_q.shape[0] != reward.shape[0]:
        raise ValueError(
            f"[q_learning_target] next_q has {next_q.shape[0]} rows for {reward.shape[0]} rewards"
        )
    with no_grad():
        if next_q_online is None:
            future = next_q.max(dim=1).values
        else:
            best = next_q_online.argmax(dim=1, keepdim=True)
            future = next_q.gather(1, best).squeeze(1)
        alive = 1.0 - terminated.to(reward.dtype)
        return reward + gamma * alive * future


def _paired_tensors(op: str, target: nn.Module, online: nn.Module) -> list[tuple[Tensor, Tensor]]:
    """The (target, online) parameters and floating buffers, matched by name."""
    t = dict(target.named_parameters()) | dict(target.named_buffers())
    o = dict(online.named_parameters()) | dict(online.named_buffers())
    if t.keys() != o.keys():
        raise ValueError(
            f"[{op}] target and online must have the same parameters and buffers; differ in "
            f"{sorted(t.keys() ^ o.keys())}"
        )
    pairs = []
    for name, p in t.items():
        if tuple(p.shape) != tuple(o[name].shape):
            raise ValueError(
                f"[{op}] {name} has shape {tuple(p.shape)} in target, {tuple(o[name].shape)} "
                "in online"
            )
        pairs.append((p, o[name]))
    return pairs


def hard_update(target: nn.Module, online: nn.Module) -> None:
    """Copy every parameter and buffer of ``online`` into ``target`` (theta' <- theta), the
    target network of Mnih et al. (2015), refreshed every C steps.

    Example:
        >>> from pyfastdl import nn
        >>> from pyfastdl.ext.rl import hard_update
        >>> online, target = nn.Linear(2, 1), nn.Linear(2, 1)
        >>> hard_update(target, online)
        >>> bool((target.weight == online.weight).all())
        True
    """
    with no_grad():
        for t, o in _paired_tensors("hard_update", target, online):
            t.copy_(o)


def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Polyak averaging of the floating parameters and buffers: theta' <- tau theta +
    (1 - tau) theta' (Lillicrap et al. 2016); integer buffers (counters) are copied. tau = 1 is
    :func:`hard_update`.

    Example:
        >>> import pyfastdl as fd
        >>> from pyfastdl import nn
        >>> from pyfastdl.ext.rl import soft_update
        >>> online, target = nn.Linear(1, 1), nn.Linear(1, 1)
        >>> with fd.no_grad():
        ...     _ = online.weight.fill_(1.0), target.weight.fill_(0.0)
        >>> soft_update(target, online, tau=0.1)
        >>> round(target.weight.item(), 6)
        0.1
    """
    if not 0.0 <= tau <= 1.0:
        raise ValueError(f"[soft_update] tau must be in [0, 1], got {tau}")
    with no_grad():
        for t, o in _paired_tensors("soft_update", target, online):
            if t.is_floating_point():
                t.lerp_(o, tau)  # t + tau (o - t)
            else:
                t.copy_(o)
