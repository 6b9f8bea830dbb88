//! Exit codes: stable and documented in the README.

/// How a command ended, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: the command did what was asked; catalogs are valid (warnings allowed).
    Success,
    /// 1: the command ran and found problems: invalid catalogs, denied steps.
    Failure,
    /// 2: usage error or input that could not be read (bad flags, missing paths).
    Error,
    /// 3: with `plan --detailed-exitcode`: the plan has steps to run.
    StepsPlanned,
    /// 4: `apply` or `run` ran and something failed: an action, or a module that did
    /// not start (the report says which, with its EPS error).
    ExecutionFailed,
    /// 130: interrupted by the operator (Ctrl-C), after winding down.
    Interrupted,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Error => 2,
            ExitStatus::StepsPlanned => 3,
            ExitStatus::ExecutionFailed => 4,
            ExitStatus::Interrupted => 130,
        }
    }
}
