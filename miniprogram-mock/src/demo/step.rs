//! The numbered steps of the walk: each prints one line when done and names itself in errors.

use super::api::DemoError;
use std::fmt;

/// Hands out the steps in order: `[1/10]`, `[2/10]`, …
pub struct Steps {
    taken: usize,
    total: usize,
}

impl Steps {
    pub fn new(total: usize) -> Self {
        Self { taken: 0, total }
    }

    pub fn next(&mut self, title: &'static str) -> Step {
        self.taken += 1;
        Step {
            number: self.taken,
            total: self.total,
            title,
        }
    }
}

/// One numbered step; `Display` names it in error messages.
pub struct Step {
    number: usize,
    total: usize,
    title: &'static str,
}

impl Step {
    /// The step's one line with its key result.
    pub fn line(&self, result: impl fmt::Display) -> String {
        format!("[{}/{}] {}: {result}", self.number, self.total, self.title)
    }

    /// Prints the step's line.
    pub fn done(&self, result: impl fmt::Display) {
        println!("{}", self.line(result));
    }

    /// The step cannot go on for a reason of its own (not an HTTP failure).
    pub fn fail(&self, problem: impl Into<String>) -> DemoError {
        DemoError::Step {
            step: self.to_string(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {}/{} ({})", self.number, self.total, self.title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_numbered_in_order_and_named_in_failures() {
        let mut steps = Steps::new(10);
        let first = steps.next("log in");
        let second = steps.next("send an SMS code");
        assert_eq!(first.line("user u1"), "[1/10] log in: user u1");
        assert_eq!(
            second.fail("the outbox is empty").to_string(),
            "step 2/10 (send an SMS code): the outbox is empty"
        );
    }
}
