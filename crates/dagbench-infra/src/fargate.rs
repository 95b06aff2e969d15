//! The task sizes Fargate accepts: each CPU value allows a fixed set of
//! memory values (AWS ECS developer guide, "Task CPU and memory"). Any other
//! pair fails at deploy time, minutes in; we reject it before anything runs.

/// One CPU value and the memory values (MiB) it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSizes {
    /// CPU units (1024 = one vCPU).
    pub cpu: u32,
    /// Smallest memory, MiB.
    pub min_memory: u32,
    /// Largest memory, MiB.
    pub max_memory: u32,
    /// Step between allowed memory values, MiB (above the minimum).
    pub step: u32,
    /// Memory values allowed besides the stepped range (0.25 vCPU's 512).
    pub extra: &'static [u32],
}

impl CpuSizes {
    /// Whether `memory` MiB is allowed with this CPU value.
    #[must_use]
    pub fn allows(&self, memory: u32) -> bool {
        self.extra.contains(&memory)
            || (self.min_memory..=self.max_memory).contains(&memory)
                && (memory - self.min_memory).is_multiple_of(self.step)
    }

    /// The allowed memory values, smallest first.
    #[must_use]
    pub fn memory_values(&self) -> Vec<u32> {
        let mut values: Vec<u32> = self.extra.to_vec();
        values.extend((self.min_memory..=self.max_memory).step_by(self.step as usize));
        values.sort_unstable();
        values
    }

    /// The allowed memory values for a message: a list when short, a range
    /// with its step when long.
    #[must_use]
    pub fn describe_memory(&self) -> String {
        let values = self.memory_values();
        if values.len() <= 4 {
            let text: Vec<String> = values.iter().map(u32::to_string).collect();
            format!("{} MiB", text.join(", "))
        } else {
            format!(
                "{} to {} MiB in steps of {}",
                self.min_memory, self.max_memory, self.step
            )
        }
    }
}

/// Every CPU value Fargate offers (Linux), smallest first. 8 and 16 vCPU
/// need platform version 1.4.0 or later, the default.
pub const SIZES: &[CpuSizes] = &[
    CpuSizes {
        cpu: 256,
        min_memory: 1024,
        max_memory: 2048,
        step: 1024,
        extra: &[512],
    },
    CpuSizes {
        cpu: 512,
        min_memory: 1024,
        max_memory: 4096,
        step: 1024,
        extra: &[],
    },
    CpuSizes {
        cpu: 1024,
        min_memory: 2048,
        max_memory: 8192,
        step: 1024,
        extra: &[],
    },
    CpuSizes {
        cpu: 2048,
        min_memory: 4096,
        max_memory: 16384,
        step: 1024,
        extra: &[],
    },
    CpuSizes {
        cpu: 4096,
        min_memory: 8192,
        max_memory: 30720,
        step: 1024,
        extra: &[],
    },
    CpuSizes {
        cpu: 8192,
        min_memory: 16384,
        max_memory: 61440,
        step: 4096,
        extra: &[],
    },
    CpuSizes {
        cpu: 16384,
        min_memory: 32768,
        max_memory: 122_880,
        step: 8192,
        extra: &[],
    },
];

/// The sizes for `cpu`, if Fargate offers it.
#[must_use]
pub fn sizes(cpu: u32) -> Option<&'static CpuSizes> {
    SIZES.iter().find(|s| s.cpu == cpu)
}

/// The CPU values, for messages.
#[must_use]
pub fn cpu_values() -> String {
    let text: Vec<String> = SIZES.iter().map(|s| s.cpu.to_string()).collect();
    text.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_pairs_are_allowed_and_their_neighbours_are_not() {
        // Spot checks from the published table.
        for (cpu, memory) in [
            (256, 512),
            (256, 2048),
            (512, 4096),
            (1024, 8192),
            (2048, 16384),
            (4096, 30720),
            (8192, 20480),
            (16384, 40960),
        ] {
            assert!(sizes(cpu).unwrap().allows(memory), "{cpu}/{memory}");
        }
        for (cpu, memory) in [
            (256, 4096),
            (256, 1536),
            (512, 512),
            (1024, 1024),
            (4096, 31744),
            (8192, 17408),
            (16384, 36864),
        ] {
            assert!(!sizes(cpu).unwrap().allows(memory), "{cpu}/{memory}");
        }
        assert!(sizes(3000).is_none());
    }

    #[test]
    fn listed_values_are_exactly_the_allowed_ones() {
        for s in SIZES {
            let listed = s.memory_values();
            let allowed: Vec<u32> = (1..=130_000).filter(|m| s.allows(*m)).collect();
            assert_eq!(listed, allowed, "cpu {}", s.cpu);
        }
        assert_eq!(sizes(256).unwrap().describe_memory(), "512, 1024, 2048 MiB");
        assert_eq!(
            sizes(1024).unwrap().describe_memory(),
            "2048 to 8192 MiB in steps of 1024"
        );
    }
}
