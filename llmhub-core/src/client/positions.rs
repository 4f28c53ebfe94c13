//! [`Positions`]: where each index a provider sends sits in a list, for joining the pieces
//! of a streamed reply (OpenAI choices and tool calls, Anthropic content blocks).

use std::collections::HashMap;

/// Where each index a provider sends (a choice's, a tool call's, a content block's) sits in a
/// list kept in order of first appearance. Pieces with the same index join whatever its value,
/// and the lookup stays cheap however many indices a stream sends: a short list is searched in
/// place, a longer one moves to a hash map.
#[derive(Debug)]
pub(crate) enum Positions {
    /// Few indices (the usual case): `(index, position)` pairs.
    Few(Vec<(u32, usize)>),
    /// Many indices.
    Many(HashMap<u32, usize>),
}

impl Default for Positions {
    fn default() -> Positions {
        Positions::Few(Vec::new())
    }
}

impl Positions {
    /// Past this many indices, the pairs move to a hash map.
    const FEW: usize = 8;

    /// The position of `index`, if it was seen.
    pub fn get(&self, index: u32) -> Option<usize> {
        match self {
            Positions::Few(pairs) => pairs.iter().find(|(i, _)| *i == index).map(|(_, at)| *at),
            Positions::Many(map) => map.get(&index).copied(),
        }
    }

    /// How many indices were seen.
    pub fn len(&self) -> usize {
        match self {
            Positions::Few(pairs) => pairs.len(),
            Positions::Many(map) => map.len(),
        }
    }

    /// The position of `index`; when it is new, it takes the next position and `add` runs
    /// (to push the new item at that position).
    pub fn position(&mut self, index: u32, add: impl FnOnce()) -> usize {
        if let Some(at) = self.get(index) {
            return at;
        }
        let at = self.len();
        match self {
            Positions::Few(pairs) if pairs.len() < Self::FEW => pairs.push((index, at)),
            Positions::Few(pairs) => {
                let mut map: HashMap<u32, usize> = pairs.drain(..).collect();
                map.insert(index, at);
                *self = Positions::Many(map);
            }
            Positions::Many(map) => {
                map.insert(index, at);
            }
        }
        add();
        at
    }
}
