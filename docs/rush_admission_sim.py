#!/usr/bin/env python3
"""What order of service could bring the booking rush's p99 under 100 ms on two cores?

A model of `guahao-bench --only rush` (BENCHMARKS.md), not of the code: a closed loop of 256
connections, each sending its next attempt the moment it is answered; 20,000 attempts for 500
places. Every attempt costs `--loser-ms` of CPU to reach the Redis hold (a sold-out answer ends
there); a winner then needs `--winner-ms` more (booking write, provider order, signatures).
Everything running shares the cores equally (processor sharing), in steps of `--step-ms`.

Winners past the hold wait at a gate that lets `K` work at once. `fifo` admits the oldest first
(what the gateway does: no gate, arrival order); `lifo` admits the newest first, the only order
that can keep most answers under 100 ms once more winners are in flight than the cores finish
in 100 ms; `fresh` is `lifo` that, while places are left, keeps a free slot for a winner that
arrived in the last `--fresh-ms` rather than give it to one that has waited longer (plain `lifo`
hands the slots freed by a finishing group to old waiters, the new arrivals being still on their
way to the hold). The p99 of 20,000 attempts allows 200 answers over 100 ms.

    python3 docs/rush_admission_sim.py --winner-ms 2.0 --gates 32 48 64 72 80 88
"""

import argparse


def simulate(gate, order, winner_ms, loser_ms, step_ms, fresh_ms, connections=256,
             attempts=20_000, places=500, cores=2.0):
    now, sent, places_left, admitted = 0.0, 0, places, 0
    running = []  # [cpu ms left, sent at, is a winner past the gate]
    waiting = []  # (arrived at the gate, job) of winners past the hold, in arrival order
    answers = []  # (latency ms, won)
    for _ in range(connections):
        running.append([loser_ms, now, False])
        sent += 1
    while len(answers) < attempts:
        share = min(1.0, cores / len(running)) * step_ms if running else 0.0
        for job in running:
            job[0] -= share
        now += step_ms
        for job in [j for j in running if j[0] <= 0]:
            running.remove(job)
            if not job[2] and places_left > 0:
                places_left -= 1
                waiting.append((now, job))
                continue
            if job[2]:
                admitted -= 1
            answers.append((now - job[1], job[2]))
            if sent < attempts:
                running.append([loser_ms, now, False])
                sent += 1
        while waiting and admitted < gate:
            if order == "fresh" and places_left > 0 and now - waiting[-1][0] > fresh_ms:
                break
            _, job = waiting.pop(0) if order == "fifo" else waiting.pop()
            job[0], job[2] = winner_ms, True
            admitted += 1
            running.append(job)
    latencies = sorted(latency for latency, _ in answers)
    winners = sorted(latency for latency, won in answers if won)
    return {
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "over_100": sum(1 for latency in latencies if latency > 100),
        "winners_p50": winners[len(winners) // 2],
        "winners_max": winners[-1],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--winner-ms", type=float, default=2.0)
    parser.add_argument("--loser-ms", type=float, default=0.09)
    parser.add_argument("--step-ms", type=float, default=0.02)
    parser.add_argument("--fresh-ms", type=float, default=20.0)
    parser.add_argument("--gates", type=int, nargs="+", default=[32, 64, 80])
    args = parser.parse_args()
    print("order   gate   p99 ms   answers over 100 ms   winners p50 ms   winners max ms")
    rows = [("fifo", 256)]
    rows += [(order, gate) for order in ("lifo", "fresh") for gate in args.gates]
    for order, gate in rows:
        r = simulate(gate, order, args.winner_ms, args.loser_ms, args.step_ms, args.fresh_ms)
        print(f"{order:5} {gate:6} {r['p99']:8.0f} {r['over_100']:21} "
              f"{r['winners_p50']:16.0f} {r['winners_max']:16.0f}")


if __name__ == "__main__":
    main()
