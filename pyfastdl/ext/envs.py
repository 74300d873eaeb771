"""The course's mouse-and-cheese grid game, with gymnasium's ``Env`` interface. Ours: neither
PyTorch nor gymnasium ships it.

The rules. The course's slides give three: the mouse eats cheese (reward +0.5) and must avoid
poison (reward -1), and it sees the 25 cells around it (a vision range of 2 cells, a 5×5 view).
The slides are silent on the rest; these are our choices:

- the board is ``size``×``size`` cells (default 10×10) closed by walls, and cells outside the
  board read as walls in the view; there are no walls inside a random board (a hand-built layout
  may have some);
- each cell holds cheese with probability ``cheese_prob`` (default 0.25), else poison with
  probability ``poison_prob`` (default 0.15), else nothing; the mouse starts on an empty cell;
- four actions, 0 up, 1 right, 2 down, 3 left; a move into a wall leaves the mouse in place;
- stepping on cheese or poison eats it: the reward is +0.5 or -1 and the cell becomes empty
  so a poison cell costs once; there is no step penalty (the discount already prefers short
  paths);
- for training only, ``revisit_penalty`` (default 0: the rules above) is subtracted from the
  reward of a step that ends on a cell the mouse has already stood on, bumps into walls
  included: an exploration malus that teaches a greedy policy not to walk in circles;
  evaluate with the default;
- the episode *terminates* when the last cheese is eaten (a true end: nothing is left to earn)
  and is *truncated* after ``max_steps`` steps (default 80; a time limit, not an end of the game,
  so a learner should bootstrap through it).

The observation is a float32 array (4, 5, 5) centred on the mouse: channel 0 is 1 on walls,
channel 1 on cheese, channel 2 on poison, channel 3 on the cells the mouse has stood on in this
episode (its trail: without it a memoryless policy cannot tell explored ground from
unexplored, and a greedy one walks in circles once no cheese is in sight; measured: a
hand-written memoryless policy reaches about 2/3 of the oracle's return without the trail,
0.95 with it). One-hot planes, so a CNN reads the view like a 4-channel image and an MLP
reads the 100 numbers flattened. The mouse itself is always at (2, 2).

Gymnasium. :class:`MouseGame` is a plain class with ``Env``'s interface (``reset(seed=None,
options=None) -> (obs, info)``, ``step(action) -> (obs, reward, terminated, truncated, info)``,
``render()``, ``close()``, ``np_random``, ``metadata``, ``render_mode``), so that it runs
without gymnasium (an optional extra, ``pip install pyfastdl[rl]``); ``action_space`` and
``observation_space`` are gymnasium spaces built on first access, when gymnasium is installed.
:func:`gymnasium_env` returns the same game as a true ``gymnasium.Env`` subclass (for
``gymnasium.utils.env_checker.check_env`` and gymnasium's wrappers); the subclass is made on
first call, so importing this module never imports gymnasium.

The rules look the same after a quarter turn or a mirror of the board: :func:`apply_symmetry`
maps views and actions through the 8 symmetries of the square (data augmentation for a learner).

Two reference policies see the whole board: :func:`shortest_path_policy` (breadth-first search
to the nearest cheese, around poison: the oracle a learned policy is measured against) and
:func:`random_policy`; :func:`evaluate_policy` plays episodes with either, or with any callable
``policy(env, obs) -> action``.

Example:
    >>> from pyfastdl.ext.envs import MouseGame
    >>> env = MouseGame()
    >>> obs, info = env.reset(seed=0, options={"layout": ["M.C", "..P"]})
    >>> obs.shape, obs.dtype.name, info
    ((4, 5, 5), 'float32', {'cheese_left': 1, 'steps': 0})
    >>> obs[1, 2, 4], obs[2, 3, 4]  # cheese two cells right, poison below-right of it
    (np.float32(1.0), np.float32(1.0))
    >>> env.step(1)[1:]
    (0.0, False, False, {'cheese_left': 1, 'steps': 1})
    >>> env.step(1)[1:]  # the last cheese: the episode terminates
    (0.5, True, False, {'cheese_left': 0, 'steps': 2})
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "MouseGame",
    "apply_symmetry",
    "evaluate_policy",
    "gymnasium_env",
    "random_policy",
    "shortest_path_policy",
]

# Cell codes of the board; the board is padded by VIEW cells of wall on each side, so that the
# 5×5 view is a plain slice wherever the mouse stands.
EMPTY, WALL, CHEESE, POISON = 0, 1, 2, 3
VIEW = 2  # vision range: the mouse sees (2 * VIEW + 1) ** 2 cells
# (row, column) moves of the actions 0 up, 1 right, 2 down, 3 left
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
CHEESE_REWARD, POISON_REWARD = 0.5, -1.0

_LAYOUT_CODES = {".": EMPTY, "#": WALL, "C": CHEESE, "P": POISON, "M": EMPTY}
_ANSI = {EMPTY: ".", WALL: "#", CHEESE: "C", POISON: "P"}
# rgb_array colours: the slides draw food red and poison blue
_COLOURS = np.array([[238, 238, 230], [70, 70, 80], [220, 50, 40], [40, 90, 220]], dtype=np.uint8)
_MOUSE_COLOUR = np.array([40, 40, 40], dtype=np.uint8)
_CELL_PX = 16


class MouseGame:
    """The course's grid game: a mouse eats cheese (+0.5), avoids poison (-1) and sees the 5×5
    cells around it. The module docstring states the rules and the observation.

    Args:
        size: the board is size×size cells inside its walls (at least 2).
        cheese_prob: the probability that a cell of a random board holds cheese.
        poison_prob: the probability that a cell without cheese holds poison.
        max_steps: the episode is truncated after this many steps.
        revisit_penalty: subtracted from the reward of a step onto a cell already visited
            (training-time shaping; 0 keeps the course's rewards).
        render_mode: ``"rgb_array"`` (``render()`` returns an (H, W, 3) uint8 image, 16 pixels
            a cell), ``"ansi"`` (a text picture) or None.

    ``reset(options={"layout": rows})`` plays a hand-built board instead of a random one: rows
    of equal length over ``.`` (empty), ``#`` (wall), ``C`` (cheese), ``P`` (poison) and one
    ``M`` (the mouse, on an empty cell).

    Example:
        >>> from pyfastdl.ext.envs import MouseGame
        >>> env = MouseGame(size=6, max_steps=3, render_mode="ansi")
        >>> obs, info = env.reset(seed=1)
        >>> for _ in range(3):
        ...     obs, reward, terminated, truncated, info = env.step(0)
        >>> truncated, info["steps"]
        (True, 3)
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    spec = None
    num_actions = len(MOVES)
    observation_shape = (4, 2 * VIEW + 1, 2 * VIEW + 1)

    def __init__(
        self,
        size: int = 10,
        cheese_prob: float = 0.25,
        poison_prob: float = 0.15,
        max_steps: int = 80,
        revisit_penalty: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 2:
            raise ValueError(f"[MouseGame] size must be an int >= 2, got {size!r}")
        for name, p in (("cheese_prob", cheese_prob), ("poison_prob", poison_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"[MouseGame] {name} must be in [0, 1], got {p!r}")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"[MouseGame] max_steps must be an int >= 1, got {max_steps!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"[MouseGame] render_mode must be None, 'ansi' or 'rgb_array', got {render_mode!r}"
            )
        self.size, self.cheese_prob, self.poison_prob = size, cheese_prob, poison_prob
        if not revisit_penalty >= 0.0:
            raise ValueError(f"[MouseGame] revisit_penalty must be >= 0, got {revisit_penalty!r}")
        self.max_steps, self.render_mode = max_steps, render_mode
        self.revisit_penalty = float(revisit_penalty)
        self._np_random: np.random.Generator | None = None
        self._grid: np.ndarray | None = None  # padded board of cell codes
        self._trail: np.ndarray | None = None  # padded board, True where the mouse has stood
        self._pos = (0, 0)  # the mouse's (row, column) in the padded board
        self._steps = 0
        self._done = False
        self._spaces: tuple[Any, Any] | None = None

    # ---- gymnasium's Env interface ---------------------------------------------------------

    @property
    def np_random(self) -> np.random.Generator:
        """The game's generator (seeded by ``reset(seed=...)``; fresh entropy before that)."""
        if self._np_random is None:
            self._np_random = np.random.default_rng()
        return self._np_random

    @property
    def unwrapped(self) -> MouseGame:
        """The game itself (gymnasium's wrappers answer their inner environment)."""
        return self

    @property
    def action_space(self) -> Any:
        """``gymnasium.spaces.Discrete(4)`` (0 up, 1 right, 2 down, 3 left); needs gymnasium."""
        return self._gymnasium_spaces()[0]

    @property
    def observation_space(self) -> Any:
        """``gymnasium.spaces.Box(0, 1, (4, 5, 5), float32)``; needs gymnasium."""
        return self._gymnasium_spaces()[1]

    def _gymnasium_spaces(self) -> tuple[Any, Any]:
        if self._spaces is None:
            try:
                from gymnasium import spaces
            except ImportError as err:
                raise ImportError(
                    "[MouseGame] action_space and observation_space are gymnasium spaces: "
                    "pip install gymnasium (or pyfastdl[rl]); the game itself runs without it"
                ) from err
            self._spaces = (
                spaces.Discrete(self.num_actions),
                spaces.Box(0.0, 1.0, self.observation_shape, dtype=np.float32),
            )
        return self._spaces

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: a new random board (or ``options["layout"]``); returns (obs, info).

        ``seed`` reseeds the game's generator (the same seed gives the same board); without it
        the generator goes on from where it was.
        """
        if seed is not None:
            self._np_random = np.random.default_rng(seed)
        layout = (options or {}).get("layout")
        if layout is not None:
            self._grid, self._pos = _parse_layout(layout)
        else:
            self._grid, self._pos = self._random_board(self.np_random)
        self._steps, self._done = 0, False
        self._trail = np.zeros(self._grid.shape, dtype=bool)
        self._trail[self._pos] = True
        return self._observation(), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move the mouse: returns (obs, reward, terminated, truncated, info)."""
        if self._grid is None:
            raise RuntimeError("[MouseGame] step() before reset()")
        if self._done:
            raise RuntimeError("[MouseGame] step() after the episode ended: call reset()")
        try:
            a = operator.index(action)
        except TypeError:
            raise TypeError(
                f"[MouseGame] action must be an int, got {type(action).__name__}"
            ) from None
        if not 0 <= a < self.num_actions:
            raise ValueError(f"[MouseGame] action must be 0, 1, 2 or 3, got {a}")
        dr, dc = MOVES[a]
        r, c = self._pos[0] + dr, self._pos[1] + dc
        reward = 0.0
        if self._grid[r, c] != WALL:
            self._pos = (r, c)
        if self._trail[self._pos]:  # a bump or a step back: the cell is empty (eaten before)
            reward -= self.revisit_penalty
        else:
            cell = self._grid[self._pos]
            if cell == CHEESE:
                reward = CHEESE_REWARD
            elif cell == POISON:
                reward = POISON_REWARD
            self._grid[self._pos] = EMPTY
            self._trail[self._pos] = True
        self._steps += 1
        terminated = not (self._grid == CHEESE).any()
        truncated = not terminated and self._steps >= self.max_steps
        self._done = terminated or truncated
        return self._observation(), reward, bool(terminated), bool(truncated), self._info()

    def render(self) -> np.ndarray | str | None:
        """The board as an (H, W, 3) uint8 image (``render_mode="rgb_array"``) or as text
        (``"ansi"``); None without a render mode. The board shows its ring of walls; in the
        image the mouse is a dark disc and its 5×5 view is lightened."""
        if self._grid is None:
            raise RuntimeError("[MouseGame] render() before reset()")
        if self.render_mode == "ansi":
            return self.ansi()
        if self.render_mode == "rgb_array":
            return self.rgb_array()
        return None

    def close(self) -> None:
        """Nothing to release (gymnasium's interface)."""

    # ---- pictures ----------------------------------------------------------------------------

    def ansi(self) -> str:
        """The board as text: ``#`` wall, ``.`` empty, ``C`` cheese, ``P`` poison, ``M`` mouse."""
        board = self._grid[VIEW - 1 : -VIEW + 1, VIEW - 1 : -VIEW + 1]
        rows = [[_ANSI[int(v)] for v in row] for row in board]
        rows[self._pos[0] - VIEW + 1][self._pos[1] - VIEW + 1] = "M"
        return "\n".join("".join(row) for row in rows) + "\n"

    def rgb_array(self) -> np.ndarray:
        """The board as an (H, W, 3) uint8 image, 16 pixels a cell (see :meth:`render`)."""
        board = self._grid[VIEW - 1 : -VIEW + 1, VIEW - 1 : -VIEW + 1]
        image = _COLOURS[board].astype(np.float32)  # (rows, cols, 3)
        r, c = self._pos[0] - VIEW + 1, self._pos[1] - VIEW + 1
        view = image[max(r - VIEW, 0) : r + VIEW + 1, max(c - VIEW, 0) : c + VIEW + 1]
        view += 0.35 * (255.0 - view)  # lighten what the mouse sees
        image = np.repeat(np.repeat(image, _CELL_PX, axis=0), _CELL_PX, axis=1)
        # the mouse: a disc of radius 0.35 cell in its cell
        yy, xx = np.mgrid[0:_CELL_PX, 0:_CELL_PX] + 0.5 - _CELL_PX / 2
        disc = yy**2 + xx**2 <= (0.35 * _CELL_PX) ** 2
        cell = image[r * _CELL_PX : (r + 1) * _CELL_PX, c * _CELL_PX : (c + 1) * _CELL_PX]
        cell[disc] = _MOUSE_COLOUR
        return image.astype(np.uint8)

    # ---- the game's state ----------------------------------------------------------------------

    @property
    def board(self) -> np.ndarray:
        """A copy of the board inside its walls, as cell codes (0 empty, 1 wall, 2 cheese,
        3 poison), and the mouse at :attr:`position`."""
        return self._grid[VIEW:-VIEW, VIEW:-VIEW].copy()

    @property
    def position(self) -> tuple[int, int]:
        """The mouse's (row, column) on :attr:`board`."""
        return self._pos[0] - VIEW, self._pos[1] - VIEW

    def _random_board(self, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
        n = self.size
        u = rng.random((n, n))
        # one uniform number per cell: cheese below cheese_prob, then poison with probability
        # poison_prob of the rest
        cheese = u < self.cheese_prob
        poison = ~cheese & (u < self.cheese_prob + (1 - self.cheese_prob) * self.poison_prob)
        board = np.where(cheese, CHEESE, np.where(poison, POISON, EMPTY)).astype(np.int8)
        empty = np.flatnonzero(board == EMPTY)
        if empty.size == 0:  # a full board: clear one cell for the mouse
            empty = np.array([rng.integers(n * n)])
            board.flat[empty[0]] = EMPTY
        start = int(empty[rng.integers(empty.size)])
        grid = np.pad(board, VIEW, constant_values=WALL)
        return grid, (start // n + VIEW, start % n + VIEW)

    def _observation(self) -> np.ndarray:
        r, c = self._pos
        view = self._grid[r - VIEW : r + VIEW + 1, c - VIEW : c + VIEW + 1]
        trail = self._trail[r - VIEW : r + VIEW + 1, c - VIEW : c + VIEW + 1]
        return np.stack([view == WALL, view == CHEESE, view == POISON, trail]).astype(np.float32)

    def _info(self) -> dict[str, Any]:
        return {"cheese_left": int((self._grid == CHEESE).sum()), "steps": self._steps}

    def __repr__(self) -> str:
        return (
            f"MouseGame(size={self.size}, cheese_prob={self.cheese_prob}, "
            f"poison_prob={self.poison_prob}, max_steps={self.max_steps})"
        )


def _parse_layout(rows: Sequence[str]) -> tuple[np.ndarray, tuple[int, int]]:
    """A hand-built board (see :class:`MouseGame`) as the padded grid and the mouse's place."""
    if isinstance(rows, str) or not rows or any(not isinstance(r, str) for r in rows):
        raise ValueError("[MouseGame] layout must be a non-empty list of strings")
    if len({len(r) for r in rows}) != 1 or not rows[0]:
        raise ValueError(
            f"[MouseGame] layout rows must have one non-zero length, got {[len(r) for r in rows]}"
        )
    bad = sorted({ch for r in rows for ch in r} - set(_LAYOUT_CODES))
    if bad:
        raise ValueError(f"[MouseGame] layout may hold only '.#CPM', got {bad}")
    mice = [(i, j) for i, r in enumerate(rows) for j, ch in enumerate(r) if ch == "M"]
    if len(mice) != 1:
        raise ValueError(f"[MouseGame] layout must hold one mouse 'M', got {len(mice)}")
    board = np.array([[_LAYOUT_CODES[ch] for ch in r] for r in rows], dtype=np.int8)
    grid = np.pad(board, VIEW, constant_values=WALL)
    return grid, (mice[0][0] + VIEW, mice[0][1] + VIEW)


def shortest_path_policy(env: MouseGame, obs: np.ndarray | None = None) -> int:
    """The oracle: the first move of a shortest path to the nearest cheese that steps on no
    poison, found by breadth-first search over the whole board (which the mouse cannot see).

    Ties go to the lower action number. When no cheese can be reached without poison, the
    mouse moves to a free neighbour (or into a wall, staying put), so that it never eats
    poison. ``obs`` is ignored (the signature of a policy for :func:`evaluate_policy`).

    Example:
        >>> from pyfastdl.ext.envs import MouseGame, shortest_path_policy
        >>> env = MouseGame()
        >>> _ = env.reset(options={"layout": ["MP.", "...", "..C"]})
        >>> shortest_path_policy(env)  # down, around the poison
        2
    """
    grid = env._grid
    if grid is None:
        raise RuntimeError("[shortest_path_policy] the game has not been reset")
    start = env._pos
    first_move: dict[tuple[int, int], int] = {start: -1}
    queue = deque([start])
    while queue:
        r, c = queue.popleft()
        if grid[r, c] == CHEESE:
            return first_move[(r, c)]
        for a, (dr, dc) in enumerate(MOVES):
            nxt = (r + dr, c + dc)
            if nxt not in first_move and grid[nxt] not in (WALL, POISON):
                first_move[nxt] = a if (r, c) == start else first_move[(r, c)]
                queue.append(nxt)
    # no safe path to cheese: a free neighbour, else a wall (bumping it keeps the mouse put)
    r, c = start
    cells = [grid[r + dr, c + dc] for dr, dc in MOVES]
    for wanted in (EMPTY, WALL):
        if wanted in cells:
            return cells.index(wanted)
    return 0


def random_policy(env: MouseGame, obs: np.ndarray | None = None) -> int:
    """A uniformly random action, drawn from the game's generator (the baseline).

    Example:
        >>> from pyfastdl.ext.envs import MouseGame, random_policy
        >>> env = MouseGame()
        >>> _ = env.reset(seed=0)
        >>> random_policy(env) in range(4)
        True
    """
    return int(env.np_random.integers(env.num_actions))


def evaluate_policy(
    env: MouseGame,
    policy: Callable[[MouseGame, np.ndarray], int],
    episodes: int = 100,
    seed: int = 0,
) -> np.ndarray:
    """The undiscounted return of ``policy(env, obs) -> action`` in each of ``episodes``
    episodes, episode i on the board of ``reset(seed=seed + i)`` (so that two policies are
    compared on the same boards); a float64 array.

    Example:
        >>> from pyfastdl.ext.envs import MouseGame, evaluate_policy, shortest_path_policy
        >>> env = MouseGame(size=5, poison_prob=0.0)
        >>> returns = evaluate_policy(env, shortest_path_policy, episodes=3)
        >>> bool((returns > 0).all())
        True
    """
    if episodes < 1:
        raise ValueError(f"[evaluate_policy] episodes must be >= 1, got {episodes}")
    returns = np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(env, obs))
            returns[i] += reward
            done = terminated or truncated
    return returns


# The actions after a quarter turn counter-clockwise (np.rot90 of the view: what was to the
# right is now up) and after a left-right mirror.
_ROTATED_ACTION = np.array([3, 0, 1, 2])  # up -> left, right -> up, down -> right, left -> down
_MIRRORED_ACTION = np.array([0, 3, 2, 1])  # right <-> left


def apply_symmetry(
    obs: np.ndarray, action: np.ndarray, k: np.ndarray | int
) -> tuple[np.ndarray, np.ndarray]:
    """Views and actions under symmetry ``k`` of the square (0..7): ``k % 4`` quarter turns
    counter-clockwise, then a left-right mirror if ``k >= 4``.

    The game's rules are invariant under these 8 maps, so a transition (s, a, r, s') played on
    a turned or mirrored board is (g s, g a, r, g s'): one stored step teaches eight. ``obs`` is
    (..., C, 5, 5) (a batch, or one view), ``action`` the matching ints; ``k`` one int or one per
    row of a batch. Returns new arrays.

    Example:
        >>> import numpy as np
        >>> from pyfastdl.ext.envs import MouseGame, apply_symmetry
        >>> env = MouseGame()
        >>> obs, _ = env.reset(options={"layout": ["M.C"]})  # cheese two cells to the right
        >>> turned, action = apply_symmetry(obs, np.array(1), 1)  # a quarter turn
        >>> np.argwhere(turned[1]).tolist(), int(action)  # now two cells up, and "right" is "up"
        ([[0, 2]], 0)
    """
    obs, action = np.asarray(obs), np.asarray(action)
    k = np.broadcast_to(np.asarray(k), action.shape)
    if obs.shape[:-3] != action.shape or ((k < 0) | (k > 7)).any():
        raise ValueError(
            f"[apply_symmetry] expected obs (..., C, H, W), one action and one k in 0..7 per "
            f"view, got obs {obs.shape}, action {action.shape}, k {np.unique(k).tolist()}"
        )
    obs_out, action_out = obs.copy(), action.copy()
    for g in np.unique(k):
        rows = k == g
        views, acts = obs[rows], action[rows]
        views = np.rot90(views, g % 4, axes=(-2, -1))
        for _ in range(g % 4):
            acts = _ROTATED_ACTION[acts]
        if g >= 4:
            views, acts = views[..., ::-1], _MIRRORED_ACTION[acts]
        obs_out[rows], action_out[rows] = views, acts
    return obs_out, action_out


_GYM_CLASS: type | None = None


def gymnasium_env(**kwargs: Any) -> Any:
    """The game as an instance of a ``gymnasium.Env`` subclass (``MouseGame`` first in its
    bases, so its methods are the game's); ``kwargs`` go to :class:`MouseGame`. Needs
    gymnasium; the subclass is made on the first call.

    Example:
        >>> from pyfastdl.ext.envs import gymnasium_env
        >>> import gymnasium
        >>> env = gymnasium_env(size=5)
        >>> isinstance(env, gymnasium.Env), env.action_space
        (True, Discrete(4))
    """
    global _GYM_CLASS
    if _GYM_CLASS is None:
        try:
            import gymnasium
        except ImportError as err:
            raise ImportError(
                "[gymnasium_env] needs gymnasium: pip install gymnasium (or pyfastdl[rl])"
            ) from err
        _GYM_CLASS = type("MouseGameEnv", (MouseGame, gymnasium.Env), {"__module__": __name__})
    return _GYM_CLASS(**kwargs)
