//! Shards: which part of a seed range one machine of a CI matrix explores.

/// Which part of a seed range a machine covers: shard `index` of `count`, from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 1.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl Shard {
    /// The whole range.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Reads `I/N` (1 <= I <= N).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard `{s}`: expected I/N with 1 <= I <= N, like 2/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// How many seeds of a range of `n` this shard runs.
    pub fn len(&self, n: u64) -> u64 {
        let offset = self.index - 1;
        if n <= offset {
            0
        } else {
            (n - offset - 1) / self.count + 1
        }
    }

    /// Whether this shard runs no seed of a range of `n`.
    pub fn is_empty(&self, n: u64) -> bool {
        self.len(n) == 0
    }

    /// The `j`-th seed this shard runs of `first..first + n` (every `count`-th from its
    /// offset), or `None` past its end or past `u64::MAX`.
    pub fn nth(&self, first: u64, n: u64, j: u64) -> Option<u64> {
        if j >= self.len(n) {
            return None;
        }
        let k = j.checked_mul(self.count)?.checked_add(self.index - 1)?;
        first.checked_add(k)
    }

    /// The seeds of `first..first + n` this shard runs, lazily, in order.
    pub fn seeds(&self, first: u64, n: u64) -> impl Iterator<Item = u64> + use<> {
        let shard = *self;
        (0..shard.len(n)).map_while(move |j| shard.nth(first, n, j))
    }
}
