//! How a remote backend tells of an outage: the first failure of a streak as a warning that
//! says what the failures mean for builds, the rest at debug level (a build of thousands of
//! compiles must not print thousands of warnings), and the first success after it as news.

/// A remote backend's place and whether it is in a streak of failures.
#[derive(Debug)]
pub struct Outage {
    location: String,
    failing: bool,
}

impl Outage {
    pub fn new(location: String) -> Outage {
        Outage {
            location,
            failing: false,
        }
    }

    /// The backend as its messages name it (no secret in it).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// A round trip succeeded: the end of a streak is logged.
    pub fn succeeded(&mut self) {
        if self.failing {
            log::info!("{} answers again", self.location);
            self.failing = false;
        }
    }

    /// A round trip failed: the first failure of a streak is a warning that `consequence`
    /// explains (what reads and writes count as meanwhile).
    pub fn failed(&mut self, failure: &dyn std::fmt::Display, consequence: &str) {
        if self.failing {
            log::debug!("{}: {failure}", self.location);
        } else {
            log::warn!(
                "{}: {failure} (until it answers again, further failures are logged at debug \
                 level; {consequence})",
                self.location
            );
            self.failing = true;
        }
    }
}
