//! The packages PubGrub sees.

use std::fmt;

use pep508_rs::{ExtraName, PackageName};

/// A node of the PubGrub graph.
///
/// Extras are virtual packages, the way pip and posy treat them: `Extra(httpx, http2)` at version `v`
/// depends on `Package(httpx) == v` plus the requirements the extra adds. PubGrub then keeps both at the
/// same version without knowing what an extra is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PubGrubPackage {
    /// The image's requirements input.
    Root,
    Package(PackageName),
    Extra(PackageName, ExtraName),
}

impl PubGrubPackage {
    /// The real package behind this node, if any.
    pub fn name(&self) -> Option<&PackageName> {
        match self {
            PubGrubPackage::Root => None,
            PubGrubPackage::Package(name) | PubGrubPackage::Extra(name, _) => Some(name),
        }
    }
}

impl fmt::Display for PubGrubPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PubGrubPackage::Root => f.write_str("the requirements"),
            PubGrubPackage::Package(name) => write!(f, "{name}"),
            PubGrubPackage::Extra(name, extra) => write!(f, "{name}[{extra}]"),
        }
    }
}
