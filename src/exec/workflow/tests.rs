//! Property tests of the scheduler.
