"""Request arrival times for the serving simulation: Poisson and gamma-renewal streams, and random
routing of one stream over a fleet's replicas.

Every generator draws from the `numpy.random.Generator` it is given and from nothing else, so the
same seed gives the same arrays. Times are seconds from 0, sorted ascending.
"""

from __future__ import annotations

import math

import numpy as np


def renewal_arrivals(rate_qps: float, cv: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times in [0, duration_s) of a renewal process: independent gamma inter-arrival times
    with mean 1 / rate_qps and coefficient of variation `cv` (standard deviation / mean).

    Gamma with shape k = 1 / cv^2 and scale cv^2 / rate has mean k x scale = 1 / rate and CV
    1 / sqrt(k) = cv. cv = 1 is the exponential (a Poisson stream), cv > 1 burstier, cv < 1 more
    regular; cv = 0 is evenly spaced arrivals at 1 / rate, 2 / rate, ... The first arrival comes
    one inter-arrival time after 0 (an ordinary, not an equilibrium, renewal process).

    Args:
        rate_qps: Mean arrival rate, requests per second (> 0).
        cv: Coefficient of variation of the inter-arrival times (>= 0).
        duration_s: Length of the window, seconds (>= 0).
        rng: The random source.

    Returns:
        Sorted arrival times, seconds, all < duration_s.
    """
    if not rate_qps > 0 or not math.isfinite(rate_qps):
        raise ValueError(f"rate_qps must be positive and finite (got {rate_qps})")
    if not cv >= 0 or not math.isfinite(cv):
        raise ValueError(f"cv must be >= 0 and finite (got {cv})")
    if not duration_s >= 0 or not math.isfinite(duration_s):
        raise ValueError(f"duration_s must be >= 0 and finite (got {duration_s})")
    mean_gap_s = 1.0 / rate_qps
    if cv == 0:
        times = np.arange(1, math.ceil(duration_s * rate_qps) + 2, dtype=float) * mean_gap_s
        return times[times < duration_s]
    shape = 1.0 / (cv * cv)
    scale_s = cv * cv * mean_gap_s
    expected = duration_s * rate_qps
    # Draw in blocks sized to overshoot the window with high probability; keep drawing until past it.
    block = int(expected + 6.0 * cv * math.sqrt(expected + 1.0) + 16)
    parts: list[np.ndarray] = []
    last_s = 0.0
    while last_s < duration_s:
        times = last_s + np.cumsum(rng.gamma(shape, scale_s, size=block))
        parts.append(times)
        last_s = float(times[-1])
        block = max(16, block // 4)
    times = np.concatenate(parts) if parts else np.empty(0)
    return times[times < duration_s]


def poisson_arrivals(rate_qps: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times in [0, duration_s) of a Poisson stream of `rate_qps` requests per second:
    exponential inter-arrival times with mean 1 / rate_qps (`renewal_arrivals` with cv = 1).

    Args:
        rate_qps: Mean arrival rate, requests per second (> 0).
        duration_s: Length of the window, seconds (>= 0).
        rng: The random source.

    Returns:
        Sorted arrival times, seconds; about rate_qps x duration_s of them.
    """
    return renewal_arrivals(rate_qps, 1.0, duration_s, rng)


def route(n_requests: int, parts: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Random routing: each of `n_requests` requests goes to one of `parts` replicas, uniformly
    and independently. Returns, per replica, the indices of its requests in ascending order (so a
    sorted stream stays sorted), to pick arrival times and token counts alike.

    Args:
        n_requests: Requests to route (>= 0).
        parts: Replicas (>= 1).
        rng: The random source.
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1 (got {parts})")
    target = rng.integers(0, parts, size=n_requests)
    order = np.argsort(target, kind="stable")
    ends = np.cumsum(np.bincount(target, minlength=parts))
    return np.split(order, ends[:-1])


def thin(arrival_s: np.ndarray, parts: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Split one arrival stream over `parts` replicas, each request to a uniformly random one
    (`route`). Thinning a Poisson stream of rate r this way gives independent Poisson streams of
    rate r / parts each.

    Args:
        arrival_s: Arrival times, seconds.
        parts: Replicas (>= 1).
        rng: The random source.

    Returns:
        One array of arrival times per replica, in the input's order.
    """
    arrival_s = np.asarray(arrival_s, dtype=float)
    return [arrival_s[idx] for idx in route(len(arrival_s), parts, rng)]
