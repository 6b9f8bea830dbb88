//! The scheduler driven by random workflows: random DAGs, `if` conditions,
//! `continue_on_error`, `when` verdicts, outcomes and completion orders. Each case
//! checks the run semantics of issue 10 step by step.

use proptest::prelude::*;

use super::*;

/// A small deterministic generator, seeded by proptest (so failures shrink to a
/// seed and a size and replay exactly).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

struct Case {
    specs: Vec<StepSpec>,
    succeeds: Vec<bool>,
    when_runs: Vec<bool>,
}

fn random_case(n: usize, rng: &mut Rng) -> Case {
    let mut specs = Vec::new();
    for i in 0..n {
        let mut needs = Vec::new();
        if i > 0 {
            for _ in 0..rng.below(4) {
                let need = rng.below(i);
                if !needs.contains(&need) {
                    needs.push(need);
                }
            }
        }
        let condition = match rng.below(10) {
            0 | 1 => StepIf::Failure,
            2 => StepIf::Always,
            _ => StepIf::Success,
        };
        specs.push(StepSpec {
            needs,
            condition,
            continue_on_error: rng.chance(20),
            compensates: rng.chance(50),
        });
    }
    let succeeds = (0..n).map(|_| rng.chance(80)).collect();
    let when_runs = (0..n).map(|_| rng.chance(85)).collect();
    Case {
        specs,
        succeeds,
        when_runs,
    }
}

/// Run `case` through the scheduler, finishing a random running step each time,
/// checking every decision as it is made. Returns the starts in order.
fn simulate(case: &Case, limit: usize, rng: &mut Rng, interrupt_at: Option<usize>) -> Vec<usize> {
    let n = case.specs.len();
    let names: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
    let mut s = Scheduler::new(case.specs.clone(), names, limit);
    let mut running: Vec<usize> = Vec::new();
    let mut starts = Vec::new();
    let mut completion = Vec::new();
    let mut decided = vec![false; n];
    let mut stopped = false;
    let mut finishes = 0;
    loop {
        let decisions = s.next(|i| {
            if case.when_runs[i] {
                WhenVerdict::Run
            } else {
                WhenVerdict::Skip("when".into())
            }
        });
        for d in decisions {
            let (Decision::Start(i) | Decision::Skip(i, _)) = d.clone();
            assert!(!decided[i], "step {i} decided twice");
            decided[i] = true;
            // Decidable: every step it needs has finished (an interrupt skips
            // every pending step at once: those never start).
            let interrupted = matches!(&d, Decision::Skip(_, r) if r.starts_with("interrupted"));
            for &need in case.specs[i].needs.iter().filter(|_| !interrupted) {
                assert!(
                    s.state(need).finished(),
                    "step {i} decided before its need {need} finished"
                );
            }
            if let Decision::Start(i) = d {
                let needs = &case.specs[i].needs;
                match case.specs[i].condition {
                    StepIf::Success => {
                        assert!(!stopped, "an if: success step {i} started after the stop");
                        assert!(needs.iter().all(|&k| s.state(k) == State::Succeeded));
                    }
                    StepIf::Failure => {
                        assert!(needs.iter().any(|&k| s.state(k).tainted()));
                    }
                    StepIf::Always => {}
                }
                assert!(case.when_runs[i]);
                assert!(interrupt_at.is_none_or(|at| finishes < at));
                running.push(i);
                starts.push(i);
            } else if let Decision::Skip(i, reason) = d {
                let spec = &case.specs[i];
                let failed_need = spec.needs.iter().any(|&k| s.state(k) == State::Failed);
                if spec.condition == StepIf::Success && failed_need {
                    assert!(reason.starts_with("needed step") || reason.starts_with("interrupted"));
                }
                if spec.condition == StepIf::Always && interrupt_at.is_none() {
                    assert_eq!(reason, "when", "an if: always step is skipped only by when");
                }
            }
        }
        assert!(s.running() <= limit, "more than {limit} running");
        assert_eq!(s.running(), running.len());
        if s.done() {
            break;
        }
        assert!(
            !running.is_empty(),
            "no step runs and the workflow is not done"
        );
        let k = rng.below(running.len());
        let i = running.swap_remove(k);
        let ok = case.succeeds[i];
        s.finished(i, ok);
        finishes += 1;
        completion.push(i);
        if !ok && !case.specs[i].continue_on_error {
            stopped = true;
        }
        if interrupt_at == Some(finishes) {
            s.interrupt();
        }
    }
    assert!(decided.iter().all(|d| *d), "a step was never decided");
    assert_eq!(s.stopped_by().is_some(), stopped);
    // Compensation: succeeded steps that declare one, in reverse completion order,
    // only when the workflow stopped (and never after an interrupt).
    let expected: Vec<usize> = if stopped && interrupt_at.is_none_or(|at| finishes < at) {
        completion
            .iter()
            .rev()
            .copied()
            .filter(|&i| case.succeeds[i] && case.specs[i].compensates)
            .collect()
    } else {
        Vec::new()
    };
    assert_eq!(s.compensations(), expected);
    starts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_workflows_keep_the_run_semantics(n in 1usize..40, limit in 1usize..5, seed in 1u64..u64::MAX) {
        let mut rng = Rng(seed);
        let case = random_case(n, &mut rng);
        simulate(&case, limit, &mut rng, None);
    }

    #[test]
    fn the_same_completion_order_gives_the_same_run(n in 1usize..30, limit in 1usize..4, seed in 1u64..u64::MAX) {
        let case = random_case(n, &mut Rng(seed));
        let a = simulate(&case, limit, &mut Rng(seed ^ 0x9e37), None);
        let b = simulate(&case, limit, &mut Rng(seed ^ 0x9e37), None);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn an_interrupt_starts_nothing_more(n in 2usize..30, limit in 1usize..4, seed in 1u64..u64::MAX, at in 1usize..6) {
        let mut rng = Rng(seed);
        let case = random_case(n, &mut rng);
        simulate(&case, limit, &mut rng, Some(at));
    }
}

fn spec(needs: &[usize], condition: StepIf) -> StepSpec {
    StepSpec {
        needs: needs.to_vec(),
        condition,
        continue_on_error: false,
        compensates: true,
    }
}

fn names(n: usize) -> Vec<String> {
    ["a", "b", "c", "d", "e", "f"][..n]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn a_failure_stops_the_workflow_and_handlers_still_run() {
    // a → b → c (success), a → d (failure handler), b → e (always)
    let specs = vec![
        spec(&[], StepIf::Success),
        spec(&[0], StepIf::Success),
        spec(&[1], StepIf::Success),
        spec(&[0], StepIf::Failure),
        spec(&[1], StepIf::Always),
    ];
    let mut s = Scheduler::new(specs, names(5), 4);
    assert_eq!(s.next(|_| WhenVerdict::Run), vec![Decision::Start(0)]);
    s.finished(0, true);
    assert_eq!(
        s.next(|_| WhenVerdict::Run),
        vec![
            Decision::Start(1),
            Decision::Skip(3, "no needed step failed".into())
        ]
    );
    s.finished(1, false);
    assert_eq!(
        s.next(|_| WhenVerdict::Run),
        vec![
            Decision::Skip(2, "needed step `b` failed".into()),
            Decision::Start(4)
        ]
    );
    s.finished(4, true);
    assert!(s.done());
    assert_eq!(s.stopped_by(), Some(1));
    // `a` and `e` succeeded: undone in reverse order of completion.
    assert_eq!(s.compensations(), vec![4, 0]);
}

#[test]
fn a_when_skip_is_not_a_failure() {
    // a (when false) → b (success) ; a → c (failure): c does not run
    let specs = vec![
        spec(&[], StepIf::Success),
        spec(&[0], StepIf::Success),
        spec(&[0], StepIf::Failure),
        spec(&[0], StepIf::Always),
    ];
    let mut s = Scheduler::new(specs, names(4), 2);
    let d = s.next(|i| {
        if i == 0 {
            WhenVerdict::Skip("when: no".into())
        } else {
            WhenVerdict::Run
        }
    });
    assert_eq!(
        d,
        vec![
            Decision::Skip(0, "when: no".into()),
            Decision::Skip(1, "needed step `a` was skipped".into()),
            Decision::Skip(2, "no needed step failed".into()),
            Decision::Start(3),
        ]
    );
    s.finished(3, true);
    assert!(s.done());
    assert_eq!(s.stopped_by(), None);
    assert!(s.compensations().is_empty());
}

#[test]
fn ready_steps_start_in_plan_order_up_to_the_limit() {
    let specs = (0..5).map(|_| spec(&[], StepIf::Success)).collect();
    let mut s = Scheduler::new(specs, names(5), 2);
    assert_eq!(
        s.next(|_| WhenVerdict::Run),
        vec![Decision::Start(0), Decision::Start(1)]
    );
    assert!(s.next(|_| WhenVerdict::Run).is_empty());
    s.finished(1, true);
    assert_eq!(s.next(|_| WhenVerdict::Run), vec![Decision::Start(2)]);
}

#[test]
fn continue_on_error_does_not_stop() {
    let mut specs = vec![spec(&[], StepIf::Success), spec(&[], StepIf::Success)];
    specs[0].continue_on_error = true;
    let mut s = Scheduler::new(specs, names(2), 1);
    assert_eq!(s.next(|_| WhenVerdict::Run), vec![Decision::Start(0)]);
    s.finished(0, false);
    assert_eq!(s.next(|_| WhenVerdict::Run), vec![Decision::Start(1)]);
    s.finished(1, true);
    assert!(s.done());
    assert_eq!(s.stopped_by(), None);
}

#[test]
fn needs_that_form_a_cycle_are_skipped_not_waited_on() {
    // A hostile plan: a needs b, b needs a.
    let specs = vec![spec(&[1], StepIf::Success), spec(&[0], StepIf::Success)];
    let mut s = Scheduler::new(specs, names(2), 2);
    let d = s.next(|_| WhenVerdict::Run);
    assert_eq!(d.len(), 2);
    assert!(matches!(&d[0], Decision::Skip(0, r) if r.contains("cycle")));
    assert!(s.done());
}
