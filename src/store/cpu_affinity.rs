//! Keeps a re-push's archive pipeline on one CPU.
//!
//! rustic's archiver hands every source entry from the thread that walks the tree to a file
//! worker and back (rendezvous channels), whether or not the file is read. On a re-push nearly
//! every file matches the parent snapshot, so the work is mostly these hand-offs, and when the
//! threads sit on different CPUs each one is a cross-CPU wake-up. Measured on 2 cores (30,400
//! files, bench/data-mover.sh --shape forge): an unchanged re-push took 2.1–2.5 s spread over
//! both CPUs and 1.25 s with the pipeline on one; a 1%-changed re-push 2.7 s and 1.4 s. A first
//! push was no slower pinned (the packers, which compress and encrypt, stay on every CPU), but
//! there the pipeline also chunks and hashes everything, so first pushes keep their spread.
//!
//! Linux only: elsewhere (and when the calls fail) nothing is pinned and the push runs as before.

/// The calling thread's CPU mask when it was taken, put back when this is dropped.
pub struct ThreadCpuMask {
    #[cfg(target_os = "linux")]
    saved: Option<libc::cpu_set_t>,
}

impl ThreadCpuMask {
    /// Remembers the calling thread's CPU mask.
    pub fn save() -> Self {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: a zeroed cpu_set_t is a valid empty set; the call writes at most its size.
            let mut mask: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            let ok = unsafe {
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut mask) == 0
            };
            ThreadCpuMask {
                saved: ok.then_some(mask),
            }
        }
        #[cfg(not(target_os = "linux"))]
        ThreadCpuMask {}
    }
}

impl Drop for ThreadCpuMask {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(mask) = &self.saved {
            // SAFETY: the mask came from sched_getaffinity for this size.
            let rc =
                unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), mask) };
            if rc != 0 {
                tracing::debug!(error = %std::io::Error::last_os_error(), "could not restore the thread's CPU mask");
            }
        }
    }
}

/// Pins the calling thread to the CPU it is running on; the threads it starts from now on inherit
/// that. Returns whether it did. Take a [`ThreadCpuMask`] first to undo it.
pub fn pin_to_current_cpu() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain libc calls on a stack cpu_set_t of the size passed.
        unsafe {
            let cpu = libc::sched_getcpu();
            let Ok(cpu) = usize::try_from(cpu) else {
                return false;
            };
            if cpu >= libc::CPU_SETSIZE as usize {
                return false;
            }
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{pin_to_current_cpu, ThreadCpuMask};

    fn allowed_cpus() -> usize {
        let mut mask: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        assert_eq!(
            unsafe {
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut mask)
            },
            0
        );
        unsafe { libc::CPU_COUNT(&mask) as usize }
    }

    #[test]
    fn a_pinned_thread_and_its_children_use_one_cpu_until_the_mask_is_restored() {
        // A thread of its own, so the test harness's thread keeps its mask whatever happens.
        std::thread::spawn(|| {
            let before = allowed_cpus();
            let mask = ThreadCpuMask::save();
            assert!(pin_to_current_cpu());
            assert_eq!(allowed_cpus(), 1);
            let child = std::thread::spawn(allowed_cpus).join().unwrap();
            assert_eq!(child, 1, "threads started after the pin inherit it");
            drop(mask);
            assert_eq!(allowed_cpus(), before);
            let child = std::thread::spawn(allowed_cpus).join().unwrap();
            assert_eq!(child, before);
        })
        .join()
        .unwrap();
    }
}
