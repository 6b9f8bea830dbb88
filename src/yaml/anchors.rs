//! Anchors and aliases without copying at definition.
//!
//! An anchored collection is not copied when it is defined: nested anchors would
//! multiply memory (every level copied again into each enclosing anchor). Instead
//! the table records where the finished node sits in the tree under construction,
//! as a chain of places (a collection's slot in its parent), and an alias copies
//! the node from there, once, when it is used. Places are created only for
//! collections that hold anchored nodes, at most one per collection, so the table
//! costs O(anchors + collections) however the anchors nest.
//!
//! Every anchor also records its cost (nodes, counting what its own aliases
//! expanded to, and nesting height), computed as the parser goes, so charging an
//! alias against the expansion cap and the depth limit never walks a subtree.

use compact_str::CompactString;

use super::{Cost, Frame, Node, Value};

/// Where a finished node or an open collection sits.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// The document's root.
    Document,
    /// The root of a node dropped from the tree (a duplicate key's value, a
    /// complex key), kept because aliases may still refer to it.
    Orphan(u32),
    /// Child `slot` (item index, or entry index for mappings) of the collection at
    /// place `parent`.
    Child { parent: u32, slot: u32 },
}

/// What an anchor refers to.
#[derive(Debug)]
enum Target {
    /// A scalar, kept as it is (as cheap as the place would be), with its source
    /// text for use as a mapping key.
    Scalar { node: Node, text: CompactString },
    /// A finished collection, at this place.
    Collection(u32),
}

#[derive(Debug)]
struct Anchor {
    cost: Cost,
    target: Target,
}

/// A copy an alias stands for, with the cost charged for it.
pub(super) struct Resolved {
    /// The copied node (its span is still the anchored node's).
    pub node: Node,
    /// The scalar's source text, when the anchor marks a scalar.
    pub text: Option<CompactString>,
}

/// The anchors of one document.
#[derive(Debug, Default)]
pub(super) struct Anchors {
    /// By anchor id: saphyr-parser numbers anchors 1, 2, 3, … as they appear, and
    /// resolves a reused name to its latest id itself.
    table: Vec<Option<Anchor>>,
    places: Vec<Place>,
    orphans: Vec<Node>,
}

impl Anchors {
    fn set(&mut self, id: usize, anchor: Anchor) {
        if self.table.len() <= id {
            self.table.resize_with(id + 1, || None);
        }
        self.table[id] = Some(anchor);
    }

    /// Record an anchored scalar.
    pub(super) fn define_scalar(&mut self, id: usize, node: &Node, text: &str, cost: Cost) {
        self.set(
            id,
            Anchor {
                cost,
                target: Target::Scalar {
                    node: node.clone(),
                    text: CompactString::from(text),
                },
            },
        );
    }

    /// Record an anchored collection that has just been placed at `place`.
    pub(super) fn define_collection(&mut self, id: usize, place: u32, cost: Cost) {
        self.set(
            id,
            Anchor {
                cost,
                target: Target::Collection(place),
            },
        );
    }

    /// The cost of copying the node anchor `id` marks, if it is finished. An alias to an
    /// id that has no entry sits inside its own anchor: saphyr-parser itself
    /// refuses names that were never defined.
    pub(super) fn cost(&self, id: usize) -> Option<Cost> {
        self.table.get(id)?.as_ref().map(|a| a.cost)
    }

    /// The place of the open collection `stack[depth]`, created on first use.
    pub(super) fn frame_place(&mut self, stack: &mut [Frame], depth: usize) -> u32 {
        if let Some(place) = stack[depth].place {
            return place;
        }
        let place = if depth == 0 {
            Place::Document
        } else {
            let parent = self.frame_place(stack, depth - 1);
            Place::Child {
                parent,
                slot: stack[depth - 1].children() as u32,
            }
        };
        let id = self.push(place);
        stack[depth].place = Some(id);
        id
    }

    /// A place for a collection just finished and attached as the next child of
    /// the top of `stack` (or as the document when the stack is empty), unless it
    /// already has one from holding anchors.
    pub(super) fn place_attached(
        &mut self,
        own: Option<u32>,
        stack: &mut [Frame],
        slot: usize,
    ) -> u32 {
        if let Some(own) = own {
            return own;
        }
        let place = match stack.len() {
            0 => Place::Document,
            n => Place::Child {
                parent: self.frame_place(stack, n - 1),
                slot: slot as u32,
            },
        };
        self.push(place)
    }

    /// Keep a node that leaves the tree, when anchors may refer to it or into it;
    /// returns its place.
    pub(super) fn orphan(&mut self, node: Node, own: Option<u32>) -> u32 {
        let at = Place::Orphan(self.orphans.len() as u32);
        self.orphans.push(node);
        match own {
            Some(own) => {
                self.places[own as usize] = at;
                own
            }
            None => self.push(at),
        }
    }

    fn push(&mut self, place: Place) -> u32 {
        self.places.push(place);
        (self.places.len() - 1) as u32
    }

    /// A copy of the node anchor `id` marks. `stack` and `document` are the tree
    /// under construction.
    pub(super) fn resolve(
        &self,
        id: usize,
        stack: &[Frame],
        document: Option<&Node>,
    ) -> Option<Resolved> {
        let place = match &self.table.get(id)?.as_ref()?.target {
            Target::Scalar { node, text } => {
                return Some(Resolved {
                    node: node.clone(),
                    text: Some(text.clone()),
                })
            }
            Target::Collection(place) => *place,
        };
        // Slots from the root down, and the root (an orphan's number, or the document).
        let mut slots = Vec::new();
        let mut at = place;
        let orphan = loop {
            match self.places[at as usize] {
                Place::Child { parent, slot } => {
                    slots.push(slot as usize);
                    at = parent;
                }
                Place::Orphan(i) => break Some(i as usize),
                Place::Document => break None,
            }
        };
        slots.reverse();
        let mut slots = slots.into_iter();
        let mut node = match (orphan, document) {
            (Some(i), _) => &self.orphans[i],
            (None, Some(doc)) => doc,
            // The document is still being built: walk down the open collections
            // until the path leaves them for a finished child.
            (None, None) => {
                let mut depth = 0;
                loop {
                    let frame = stack.get(depth)?;
                    let slot = slots.next()?;
                    match frame.child(slot) {
                        Some(child) => break child,
                        None if slot == frame.children() => depth += 1,
                        None => return None,
                    }
                }
            }
        };
        for slot in slots {
            node = match &node.value {
                Value::Seq(items) => items.get(slot)?,
                Value::Map(entries) => &entries.get(slot)?.value,
                _ => return None,
            };
        }
        Some(Resolved {
            node: node.clone(),
            text: None,
        })
    }
}
