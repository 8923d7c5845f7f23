//! Spawned target processes: placeholder, implemented by the transport work.
pub struct ProcessGuard;
impl ProcessGuard {
    pub fn stderr_tail(&self) -> String {
        String::new()
    }
}
