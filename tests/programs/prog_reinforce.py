"""pytorch/examples reinforcement_learning/reinforce.py: REINFORCE with the example's Policy.

The policy (Linear-Dropout-ReLU-Linear, softmax), ``Categorical`` and ``m.log_prob(action)``,
``finish_episode``'s discounted returns normalised by ``(R - mean) / (std + eps)``, the loss
``torch.cat(policy_loss).sum()`` and Adam(lr=1e-2) are the example's. Reduced: gymnasium's
CartPole is replaced by a small deterministic corridor (below, NumPy) whose 4-number state
stands for CartPole's and which rewards stepping right; the episodes are collected once by a
uniformly random behaviour policy (a fixed NumPy generator) and replayed, so ``select_action``
takes the logged action instead of ``m.sample()``; the updates then raise the probability of
the rewarded actions. Dropout stays on in training (``model.train()``), so no STEPS_MATCH.
"""

from collections import deque

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical

GAMMA = 0.99
EPISODES = 4
EPOCHS = 6
eps = np.finfo(np.float32).eps.item()


class Corridor:
    """Positions 0..length-1; action 1 steps right (reward 1), action 0 steps left (reward 0).

    The episode ends at the right end or after `max_steps` steps."""

    def __init__(self, length=8, max_steps=12):
        self.length, self.max_steps = length, max_steps

    def _state(self):
        left = self.length - 1 - self.pos
        return np.array([self.pos, left, np.sin(self.pos), self.t], dtype=np.float32)

    def reset(self):
        self.pos, self.t = 0, 0
        return self._state()

    def step(self, action):
        self.t += 1
        self.pos = min(self.pos + 1, self.length - 1) if action == 1 else max(self.pos - 1, 0)
        reward = 1.0 if action == 1 else 0.0
        done = self.pos == self.length - 1 or self.t >= self.max_steps
        return self._state(), reward, done


class Policy(nn.Module):
    def __init__(self):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(4, 128)
        self.dropout = nn.Dropout(p=0.6)
        self.affine2 = nn.Linear(128, 2)

        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = self.affine1(x)
        x = self.dropout(x)
        x = F.relu(x)
        action_scores = self.affine2(x)
        return F.softmax(action_scores, dim=1)


def select_action(policy, state, action):
    """The example's select_action, replaying the logged `action` instead of sampling one."""
    state = torch.from_numpy(state).float().unsqueeze(0)
    probs = policy(state)
    m = Categorical(probs)
    action = torch.tensor([action])
    policy.saved_log_probs.append(m.log_prob(action))
    return action.item()


def policy_loss_of(policy):
    R = 0
    policy_loss = []
    returns = deque()
    for r in policy.rewards[::-1]:
        R = r + GAMMA * R
        returns.appendleft(R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    for log_prob, R in zip(policy.saved_log_probs, returns):
        policy_loss.append(-log_prob * R)
    return torch.cat(policy_loss).sum()


def finish_episode(policy, optimizer):
    optimizer.zero_grad()
    policy_loss = policy_loss_of(policy)
    policy_loss.backward()
    optimizer.step()
    del policy.rewards[:]
    del policy.saved_log_probs[:]
    return policy_loss.item()


def replay(policy, episode):
    states, actions, rewards = episode
    for state, action, reward in zip(states, actions, rewards):
        select_action(policy, state, int(action))
        policy.rewards.append(float(reward))


def build_model():
    return Policy()


def make_batches(seed):
    """Episodes (states, actions, rewards) of the corridor under a uniformly random policy."""
    rng = np.random.default_rng(seed)
    env = Corridor()
    episodes = []
    for _ in range(EPISODES):
        state, done = env.reset(), False
        states, actions, rewards = [], [], []
        while not done:
            action = int(rng.integers(0, 2))
            next_state, reward, done = env.step(action)
            states.append(state)
            actions.append(action)
            rewards.append(reward)
            state = next_state
        episodes.append((np.stack(states), np.array(actions), np.array(rewards)))
    return episodes


def evaluate(model, batch):
    model.eval()
    with torch.no_grad():
        replay(model, batch)
        loss = policy_loss_of(model).item()
    del model.rewards[:]
    del model.saved_log_probs[:]
    return loss


def train(model, batches):
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    losses = []
    for epoch in range(EPOCHS):
        for episode in batches:
            replay(model, episode)
            losses.append(finish_episode(model, optimizer))
    return losses
