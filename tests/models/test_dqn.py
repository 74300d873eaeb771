"""Deep Q-learning on the course's mouse game: the game's rules on hand-built boards, the oracle,
the Bellman target and the DQN loss against hand-computed values and PyTorch, the replay buffer,
target-network updates, gymnasium's checker, learning, and the example's smoke run."""

import importlib
import os

import numpy as np
import pytest

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.ext.envs import (
    MouseGame,
    apply_symmetry,
    evaluate_policy,
    gymnasium_env,
    random_policy,
    shortest_path_policy,
)
from pyfastdl.ext.rl import (
    ReplayBuffer,
    epsilon_greedy,
    exponential_epsilon,
    hard_update,
    linear_epsilon,
    q_learning_target,
    soft_update,
)
from pyfastdl.models import QNetworkCNN, QNetworkMLP
from pyfastdl.optim import Adam

UP, RIGHT, DOWN, LEFT = range(4)


def _game(layout, **kwargs):
    env = MouseGame(**kwargs)
    obs, info = env.reset(options={"layout": layout})
    return env, obs, info


# ---- the game's rules ------------------------------------------------------------------------


def test_rewards_and_eaten_cells_empty():
    env, _, info = _game(["CMP", "..C"])
    assert info == {"cheese_left": 2, "steps": 0}
    _, r, term, trunc, info = env.step(LEFT)  # cheese
    assert (r, term, trunc, info["cheese_left"]) == (0.5, False, False, 1)
    _, r, *_ = env.step(RIGHT)  # back to the start: empty
    assert r == 0.0
    _, r, term, *_ = env.step(RIGHT)  # poison
    assert (r, term) == (-1.0, False)
    _, r, *_ = env.step(LEFT)
    _, r, *_ = env.step(RIGHT)  # the poison was eaten: it costs once
    assert r == 0.0
    assert env.board.tolist() == [[0, 0, 0], [0, 0, 2]]


def test_walls_keep_the_mouse_in_place():
    env, *_ = _game(["M#", ".C"])
    for action in (UP, LEFT, RIGHT):  # the outer wall, the outer wall, an inner wall
        _, r, term, trunc, info = env.step(action)
        assert env.position == (0, 0) and r == 0.0 and not term and not trunc
    assert info["steps"] == 3  # bumping still takes a step
    env.step(DOWN)
    assert env.position == (1, 0)


def test_termination_and_truncation():
    env, *_ = _game(["M.C"], max_steps=5)
    env.step(RIGHT)
    _, r, term, trunc, info = env.step(RIGHT)
    assert (r, term, trunc) == (0.5, True, False) and type(term) is bool
    with pytest.raises(RuntimeError, match=r"^\[MouseGame\] step\(\) after the episode ended"):
        env.step(LEFT)
    # the time limit: truncated, not terminated
    env, *_ = _game(["M..C"], max_steps=2)
    assert env.step(RIGHT)[2:4] == (False, False)
    assert env.step(RIGHT)[2:4] == (False, True)
    # eating the last cheese on the last allowed step is an end, not a cut
    env, *_ = _game(["M.C"], max_steps=2)
    env.step(RIGHT)
    assert env.step(RIGHT)[2:4] == (True, False)


def test_revisit_penalty_is_training_shaping():
    env, *_ = _game(["MC.", "..C"], revisit_penalty=0.1)
    rewards = [env.step(a)[1] for a in (RIGHT, LEFT, UP, RIGHT, RIGHT)]
    # cheese, back to the start, a bump, the eaten cell again, a new empty cell
    assert rewards == pytest.approx([0.5, -0.1, -0.1, -0.1, 0.0])
    env, *_ = _game(["MC.", "..C"])
    assert [env.step(a)[1] for a in (RIGHT, LEFT, UP)] == [0.5, 0.0, 0.0]


def test_symmetries_map_transitions_of_the_turned_board():
    """A step on a turned or mirrored board is the mapped step on the original board."""
    layout = ["C..P", ".M..", "..#.", "P..C"]
    board = np.array([list(row) for row in layout])
    for k in range(8):
        turned = np.rot90(board, k % 4)
        turned = turned[:, ::-1] if k >= 4 else turned
        for action in range(4):
            env, obs, _ = _game(layout)
            next_obs, r, *_ = env.step(action)
            twin, twin_obs, _ = _game(["".join(row) for row in turned])
            g_obs, g_action = apply_symmetry(obs, np.array(action), k)
            np.testing.assert_array_equal(g_obs, twin_obs)
            twin_next, twin_r, *_ = twin.step(int(g_action))
            np.testing.assert_array_equal(
                apply_symmetry(next_obs, np.array(action), k)[0], twin_next
            )
            assert twin_r == r
    # a batch with one k per row
    obs = np.stack([_game(layout)[1]] * 3)
    got, acts = apply_symmetry(obs, np.array([1, 1, 1]), np.array([0, 1, 4]))
    assert acts.tolist() == [1, 0, 3]
    np.testing.assert_array_equal(got[0], obs[0])
    np.testing.assert_array_equal(got[2], obs[2][..., ::-1])
    with pytest.raises(ValueError, match=r"^\[apply_symmetry\]"):
        apply_symmetry(obs, np.array([1, 1]), 0)


def test_observation_planes():
    env, obs, _ = _game(["C....", ".M..P", "...#.", "....."])
    assert obs.shape == (4, 5, 5) and obs.dtype == np.float32
    wall, cheese, poison, trail = obs
    # the mouse at board (1, 1) sees board rows -1..3, columns -1..3; row -1 and column -1
    # are outside the board, hence walls
    expected_wall = np.zeros((5, 5))
    expected_wall[0, :] = expected_wall[:, 0] = 1
    expected_wall[3, 4] = 1  # the inner wall at board (2, 3)
    np.testing.assert_array_equal(wall, expected_wall)
    assert np.argwhere(cheese).tolist() == [[1, 1]]  # board (0, 0)
    assert poison.sum() == 0  # board (1, 4) is three columns away: out of sight
    assert np.argwhere(trail).tolist() == [[2, 2]]  # the mouse's own cell
    obs, *_ = env.step(RIGHT)
    assert np.argwhere(obs[2]).tolist() == [[2, 4]]  # now two to the right
    assert np.argwhere(obs[3]).tolist() == [[2, 1], [2, 2]]  # the trail: previous cell, here
    assert obs[0, 4].sum() == 0 and obs[0, 3, 3] == 1  # board row 3 is inside; the inner wall


def test_seeding_is_deterministic():
    env = MouseGame(size=8)
    a = [env.reset(seed=7)[0]] + [env.reset()[0] for _ in range(2)]
    board_a = env.board
    b = [env.reset(seed=7)[0]] + [env.reset()[0] for _ in range(2)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert np.array_equal(board_a, env.board)
    env.reset(seed=7)
    first = env.board
    env.reset(seed=8)
    assert not np.array_equal(first, env.board)


def test_random_boards_follow_the_probabilities():
    env = MouseGame(size=30, cheese_prob=0.3, poison_prob=0.2)
    env.reset(seed=0)
    board = env.board
    assert board[env.position] == 0  # the mouse starts on an empty cell
    assert abs((board == 2).mean() - 0.3) < 0.05
    assert abs((board == 3).mean() - 0.7 * 0.2) < 0.04  # poison on cells without cheese
    assert (board == 1).sum() == 0  # no inner walls on a random board


def test_render_modes():
    env, *_ = _game(["M.", "CP"], render_mode="ansi")
    assert env.render() == "####\n#M.#\n#CP#\n####\n"
    env, *_ = _game(["M.", "CP"], render_mode="rgb_array")
    image = env.render()
    assert image.shape == (4 * 16, 4 * 16, 3) and image.dtype == np.uint8
    # the cheese cell (board (1, 0), picture cell (2, 1)) is red, the poison blue
    red = image[2 * 16 + 2, 1 * 16 + 2].astype(int)
    blue = image[2 * 16 + 2, 2 * 16 + 2].astype(int)
    assert red[0] > red[2] and blue[2] > blue[0]
    env = MouseGame()
    env.reset(seed=0)
    assert env.render() is None and env.rgb_array().shape == (12 * 16, 12 * 16, 3)


def test_errors_are_named():
    env = MouseGame()
    with pytest.raises(RuntimeError, match=r"^\[MouseGame\] step\(\) before reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"^\[MouseGame\] action must be 0, 1, 2 or 3, got 4"):
        env.step(4)
    with pytest.raises(TypeError, match=r"^\[MouseGame\] action must be an int"):
        env.step(1.0)
    env.step(np.int64(1))  # NumPy integers (gymnasium's samples) are actions
    with pytest.raises(ValueError, match=r"^\[MouseGame\] layout must hold one mouse"):
        env.reset(options={"layout": ["..C"]})
    with pytest.raises(ValueError, match=r"^\[MouseGame\] layout may hold only"):
        env.reset(options={"layout": ["M.X"]})
    with pytest.raises(ValueError, match=r"^\[MouseGame\] layout rows"):
        env.reset(options={"layout": ["M.", "..."]})
    with pytest.raises(ValueError, match=r"^\[MouseGame\] size"):
        MouseGame(size=1)
    with pytest.raises(ValueError, match=r"^\[MouseGame\] render_mode"):
        MouseGame(render_mode="human")


def test_gymnasium_check_env():
    gymnasium = pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    env = gymnasium_env(size=6, render_mode="rgb_array")
    assert isinstance(env, gymnasium.Env) and isinstance(env, MouseGame)
    # skip_render_check: without a registered spec the checker warns that it cannot try the
    # other render modes (a warning is an error in this test run); render() is tested above
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (4, 5, 5) and env.action_space.n == 4
    assert isinstance(MouseGame().action_space, gymnasium.spaces.Discrete)  # the plain class


# ---- the oracle and the baseline ---------------------------------------------------------------


def test_oracle_walks_around_poison_and_eats_everything():
    env, *_ = _game(["MP.", ".P.", "..C"])
    actions = []
    done = False
    while not done:
        actions.append(shortest_path_policy(env))
        _, r, done, trunc, _ = env.step(actions[-1])
        assert r >= 0
    assert actions == [DOWN, DOWN, RIGHT, RIGHT]
    # no safe path: it stays away from the poison
    env, *_ = _game(["M", "P", "C"])
    assert shortest_path_policy(env) in (UP, LEFT, RIGHT)  # into a wall


def test_oracle_beats_random_on_the_same_boards():
    env = MouseGame(size=8)
    oracle = evaluate_policy(env, shortest_path_policy, episodes=10, seed=3)
    rand = evaluate_policy(env, random_policy, episodes=10, seed=3)
    assert (oracle >= 0).all() and oracle.mean() > rand.mean() + 3
    np.testing.assert_array_equal(oracle, evaluate_policy(env, shortest_path_policy, 10, 3))


# ---- the pieces of DQN ---------------------------------------------------------------------


def test_bellman_target_by_hand():
    reward = fd.tensor([0.5, -1.0, 0.0, 0.5])
    next_q = fd.tensor([[1.0, 2.0], [3.0, -1.0], [-2.0, -3.0], [4.0, 4.0]])
    terminated = fd.tensor([False, False, True, True])
    y = q_learning_target(reward, next_q, terminated, gamma=0.9)
    # r + 0.9 max Q' where alive, r alone at a terminal state
    np.testing.assert_allclose(y.array, [0.5 + 1.8, -1.0 + 2.7, 0.0, 0.5], rtol=1e-6)
    assert not y.requires_grad
    # double DQN: the online network picks a' (action 0 in row 0, action 1 in row 1)
    online = fd.tensor([[5.0, 0.0], [0.0, 5.0], [0.0, 0.0], [0.0, 0.0]])
    y = q_learning_target(reward, next_q, terminated, 0.9, next_q_online=online)
    np.testing.assert_allclose(y.array, [0.5 + 0.9, -1.0 - 0.9, 0.0, 0.5], rtol=1e-6)
    with pytest.raises(ValueError, match=r"^\[q_learning_target\]"):
        q_learning_target(reward, next_q[:2], terminated, 0.9)


def test_dqn_loss_and_gradients_match_torch():
    """One DQN step (Q(s, a) by gather, the target from a target network, Huber, clipping)
    against the same step written in PyTorch from the same weights."""
    torch = pytest.importorskip("torch")
    fd.manual_seed(0)
    online, target = QNetworkMLP(hidden=(16,)), QNetworkMLP(hidden=(16,))
    rng = np.random.default_rng(0)
    obs = (rng.random((8, 4, 5, 5)) < 0.3).astype(np.float32)
    next_obs = (rng.random((8, 4, 5, 5)) < 0.3).astype(np.float32)
    action = rng.integers(4, size=8)
    reward = rng.choice([0.0, 0.5, -1.0], size=8).astype(np.float32)
    terminated = rng.random(8) < 0.3

    tnn = torch.nn

    def twin(model):
        net = tnn.Sequential(tnn.Flatten(), tnn.Linear(100, 16), tnn.ReLU(), tnn.Linear(16, 4))
        net.load_state_dict({k[len("layers.") :]: torch.from_numpy(v.array.copy())
                             for k, v in model.state_dict().items()})  # fmt: skip
        return net

    t_online, t_target = twin(online), twin(target)
    for delta_scale in (1.0, 10.0):  # small errors (quadratic Huber) and large ones (linear)
        r = reward * delta_scale
        y = q_learning_target(fd.tensor(r), target(fd.tensor(next_obs)), fd.tensor(terminated), 0.9)
        q = online(fd.tensor(obs)).gather(1, fd.tensor(action).unsqueeze(1)).squeeze(1)
        loss = nn.SmoothL1Loss()(q, y)
        online.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(online.parameters(), 0.5)

        with torch.no_grad():
            ty = (
                torch.from_numpy(r)
                + 0.9
                * torch.from_numpy(~terminated).float()
                * t_target(torch.from_numpy(next_obs)).max(1).values
            )
        tq = t_online(torch.from_numpy(obs)).gather(1, torch.from_numpy(action)[:, None])[:, 0]
        tloss = tnn.SmoothL1Loss()(tq, ty)
        t_online.zero_grad()
        tloss.backward()
        tnorm = tnn.utils.clip_grad_norm_(t_online.parameters(), 0.5)

        np.testing.assert_allclose(y.array, ty.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-5)
        np.testing.assert_allclose(norm.item(), tnorm.item(), rtol=1e-4)
        for p, tp in zip(online.parameters(), t_online.parameters()):
            np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_replay_buffer_ring_and_sampling():
    buffer = ReplayBuffer(4, obs_shape=(2, 2), seed=0)
    with pytest.raises(ValueError, match=r"^\[ReplayBuffer\] sample\(\) from an empty buffer"):
        buffer.sample(1)
    for t in range(6):
        buffer.push(np.full((2, 2), t), t % 4, t / 10, np.full((2, 2), t + 1), t == 5)
    assert len(buffer) == 4
    # transitions 0 and 1 were overwritten by 4 and 5, in their slots
    assert buffer.obs[:, 0, 0].tolist() == [4, 5, 2, 3]
    batch = buffer.sample(500)
    assert batch.obs.shape == (500, 2, 2) and batch.next_obs.shape == (500, 2, 2)
    assert batch.obs.dtype == np.float32 and batch.action.dtype == np.int64
    assert batch.reward.dtype == np.float32 and batch.terminated.dtype == bool
    t = batch.obs[:, 0, 0].astype(int)
    assert set(t.tolist()) == {2, 3, 4, 5}  # uniform over what is stored
    # each sampled row is one consistent transition
    np.testing.assert_array_equal(batch.next_obs[:, 0, 0], t + 1)
    np.testing.assert_array_equal(batch.action, t % 4)
    np.testing.assert_allclose(batch.reward, t / 10, rtol=1e-6)
    np.testing.assert_array_equal(batch.terminated, t == 5)
    same = ReplayBuffer(4, obs_shape=(2, 2), seed=0)
    for t in range(6):
        same.push(np.full((2, 2), t), t % 4, t / 10, np.full((2, 2), t + 1), t == 5)
    np.testing.assert_array_equal(same.sample(500).obs, batch.obs)  # seeded sampling
    with pytest.raises(ValueError, match=r"^\[ReplayBuffer\] observations must have shape"):
        buffer.push(np.zeros(3), 0, 0.0, np.zeros(3), False)
    with pytest.raises(ValueError, match=r"^\[ReplayBuffer\] capacity"):
        ReplayBuffer(0, (1,))


def test_epsilon_schedules_and_choice():
    assert linear_epsilon(0, 1.0, 0.05, 100) == 1.0
    assert linear_epsilon(50, 1.0, 0.05, 100) == pytest.approx(0.525)
    assert linear_epsilon(100, 1.0, 0.05, 100) == linear_epsilon(10**6, 1.0, 0.05, 100) == 0.05
    assert exponential_epsilon(0, 1.0, 0.1, 0.9) == 1.0
    assert exponential_epsilon(2, 1.0, 0.1, 0.9) == pytest.approx(0.1 + 0.9 * 0.81)
    rng = np.random.default_rng(0)
    q = np.array([0.0, 2.0, 1.0, 2.0])
    assert {epsilon_greedy(q, 0.0, rng) for _ in range(20)} == {1}  # ties to the lower action
    picks = [epsilon_greedy(q, 1.0, rng) for _ in range(400)]
    assert set(picks) == {0, 1, 2, 3}


def test_hard_and_soft_updates():
    fd.manual_seed(0)
    online, target = QNetworkCNN(), QNetworkCNN()
    before = {k: v.array.copy() for k, v in target.state_dict().items()}
    now = {k: v.array.copy() for k, v in online.state_dict().items()}
    soft_update(target, online, tau=0.25)
    for k, v in target.state_dict().items():
        np.testing.assert_allclose(v.array, 0.75 * before[k] + 0.25 * now[k], rtol=1e-5, atol=1e-7)
    hard_update(target, online)
    for k, v in target.state_dict().items():
        np.testing.assert_array_equal(v.array, now[k])
    assert all(p.requires_grad for p in target.parameters())  # copied values, still Parameters
    # buffers too: BatchNorm's running statistics average, its counter is copied
    a, b = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    with fd.no_grad():
        a.running_mean.fill_(1.0)
        a.num_batches_tracked.fill_(5)
    soft_update(b, a, tau=0.5)
    assert b.running_mean.tolist() == [0.5, 0.5, 0.5] and b.num_batches_tracked.item() == 5
    with pytest.raises(ValueError, match=r"^\[soft_update\] target and online must have"):
        soft_update(QNetworkMLP(), QNetworkCNN(), 0.1)
    with pytest.raises(ValueError, match=r"^\[hard_update\] layers.1.weight has shape"):
        hard_update(QNetworkMLP(hidden=(8,)), QNetworkMLP(hidden=(9,)))
    with pytest.raises(ValueError, match=r"^\[soft_update\] tau"):
        soft_update(target, online, 1.5)


# ---- the Q-networks and learning ---------------------------------------------------------------


def test_q_networks_shapes_and_sizes():
    x = fd.zeros(3, 4, 5, 5)
    for cls, count in ((QNetworkMLP, 29_956), (QNetworkCNN, 42_740)):
        model = cls()
        assert model(x).shape == (3, 4)
        assert sum(p.numel() for p in model.parameters()) == count
    assert [type(m).__name__ for m in QNetworkCNN().features] == ["Conv2d", "ReLU"] * 2


@pytest.mark.parametrize("cls", [QNetworkMLP, QNetworkCNN])
def test_the_dqn_loss_falls(cls):
    """Regression to the Bellman targets of a fixed batch, with a frozen target network."""
    fd.manual_seed(0)
    env = MouseGame(size=6)
    buffer = ReplayBuffer(256, env.observation_shape, seed=0)
    obs, _ = env.reset(seed=0)
    for _ in range(256):
        action = random_policy(env)
        next_obs, r, term, trunc, _ = env.step(action)
        buffer.push(obs, action, r, next_obs, term)
        obs = next_obs if not (term or trunc) else env.reset()[0]
    batch = buffer.sample(64)
    online, target = cls(), cls()
    hard_update(target, online)
    optimizer = Adam(online.parameters(), lr=3e-3)
    with fd.no_grad():
        y = q_learning_target(
            fd.tensor(batch.reward), target(fd.tensor(batch.next_obs)),
            fd.tensor(batch.terminated), 0.9,
        )  # fmt: skip
    losses = []
    for _ in range(40):
        q = online(fd.tensor(batch.obs)).gather(1, fd.tensor(batch.action).unsqueeze(1))
        loss = nn.SmoothL1Loss()(q.squeeze(1), y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(online.parameters(), 10.0)
        optimizer.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all() and losses[-1] < 0.3 * losses[0], losses


EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


@pytest.mark.parametrize("extra", [[], ["--model", "cnn", "--target", "hard", "--double"]])
def test_example_smoke(tmp_path, monkeypatch, capsys, extra):
    monkeypatch.syspath_prepend(EXAMPLES)
    module = importlib.import_module("dqn_mouse")
    ratio = module.main(["--smoke", "--out", str(tmp_path)] + extra)
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("dqn_mouse: greedy return / oracle return = ")
    assert float(out[-1].rsplit("=", 1)[1]) == pytest.approx(ratio, abs=1e-4)
    assert any("oracle" in line for line in out) and any("random" in line for line in out)
    assert (tmp_path / "episode.png").exists() and (tmp_path / "learning_curve.png").exists()
