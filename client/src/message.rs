//! The family's messages: a command plus a flat list of attributes, parsed into
//! `DefaultNla`s and read through typed getters.

use netlink_packet_core::{DecodeError, Emitable, Nla, NlasIterator, ParseableParametrized};
use netlink_packet_generic::{GenlFamily, GenlHeader};
use vrouter_uapi::{FAMILY_NAME, FAMILY_VERSION};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrMessage {
    pub cmd: u8,
    pub attrs: Attrs,
}

impl VrMessage {
    pub fn new(cmd: u8) -> Self {
        VrMessage {
            cmd,
            attrs: Attrs::default(),
        }
    }
}

/// One attribute: its type number (flags masked off) and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAttr {
    pub kind: u16,
    pub value: Vec<u8>,
}

impl Nla for RawAttr {
    fn value_len(&self) -> usize {
        self.value.len()
    }
    fn kind(&self) -> u16 {
        self.kind
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        buffer.copy_from_slice(&self.value);
    }
}

/// Attributes of one message (or one nest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs(pub Vec<RawAttr>);

impl Attrs {
    pub fn parse(buf: &[u8]) -> Result<Attrs, DecodeError> {
        let mut out = Vec::new();
        for nla in NlasIterator::new(buf) {
            let nla = nla?;
            out.push(RawAttr {
                kind: nla.kind(),
                value: nla.value().to_vec(),
            });
        }
        Ok(Attrs(out))
    }

    pub fn get(&self, id: u16) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|n| n.kind == id)
            .map(|n| n.value.as_slice())
    }

    pub fn u8(&self, id: u16) -> Option<u8> {
        self.get(id)
            .and_then(|v| v.try_into().ok())
            .map(u8::from_ne_bytes)
    }

    pub fn u16(&self, id: u16) -> Option<u16> {
        self.get(id)
            .and_then(|v| v.try_into().ok())
            .map(u16::from_ne_bytes)
    }

    pub fn u32(&self, id: u16) -> Option<u32> {
        self.get(id)
            .and_then(|v| v.try_into().ok())
            .map(u32::from_ne_bytes)
    }

    pub fn u64(&self, id: u16) -> Option<u64> {
        self.get(id)
            .and_then(|v| v.try_into().ok())
            .map(u64::from_ne_bytes)
    }

    pub fn string(&self, id: u16) -> Option<String> {
        let v = self.get(id)?;
        let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
        Some(String::from_utf8_lossy(&v[..end]).into_owned())
    }

    pub fn array<const N: usize>(&self, id: u16) -> Option<[u8; N]> {
        self.get(id).and_then(|v| v.try_into().ok())
    }

    pub fn nested(&self, id: u16) -> Option<Attrs> {
        self.get(id).and_then(|v| Attrs::parse(v).ok())
    }

    /// A packed array of u32 values in host byte order (None if absent or not a multiple of 4).
    pub fn u32_array(&self, id: u16) -> Option<Vec<u32>> {
        let v = self.get(id)?;
        if v.len() % 4 != 0 {
            return None;
        }
        Some(
            v.chunks_exact(4)
                .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }

    /// A packed array of u64 values in host byte order (None if absent or not a multiple of 8).
    pub fn u64_array(&self, id: u16) -> Option<Vec<u64>> {
        let v = self.get(id)?;
        if v.len() % 8 != 0 {
            return None;
        }
        Some(
            v.chunks_exact(8)
                .map(|c| u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        )
    }

    pub fn push_u32(&mut self, id: u16, v: u32) -> &mut Self {
        self.push_bytes(id, &v.to_ne_bytes())
    }

    pub fn push_bytes(&mut self, id: u16, v: &[u8]) -> &mut Self {
        self.0.push(RawAttr {
            kind: id,
            value: v.to_vec(),
        });
        self
    }

    /// A NUL-terminated string attribute.
    pub fn push_str(&mut self, id: u16, v: &str) -> &mut Self {
        let mut b = v.as_bytes().to_vec();
        b.push(0);
        self.0.push(RawAttr { kind: id, value: b });
        self
    }
}

/// Where an object writes its attributes: a message being built ([`Attrs`]) or a raw
/// netlink buffer ([`RawAttrs`], used by batches). Each object has one `encode` function
/// generic over this, so requests and batches carry the same bytes.
pub trait AttrSink {
    fn put(&mut self, id: u16, value: &[u8]);

    fn put_u8(&mut self, id: u16, v: u8) {
        self.put(id, &[v]);
    }

    fn put_u16(&mut self, id: u16, v: u16) {
        self.put(id, &v.to_ne_bytes());
    }

    fn put_u32(&mut self, id: u16, v: u32) {
        self.put(id, &v.to_ne_bytes());
    }

    fn put_u64(&mut self, id: u16, v: u64) {
        self.put(id, &v.to_ne_bytes());
    }

    /// A packed u32 array in host byte order.
    fn put_u32_array(&mut self, id: u16, values: &[u32]) {
        let mut b = Vec::with_capacity(values.len() * 4);
        for v in values {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        self.put(id, &b);
    }
}

impl AttrSink for Attrs {
    fn put(&mut self, id: u16, value: &[u8]) {
        self.push_bytes(id, value);
    }
}

/// Appends netlink attributes (header, value, padding to 4 bytes) to a byte buffer.
pub struct RawAttrs<'a>(pub &'a mut Vec<u8>);

impl AttrSink for RawAttrs<'_> {
    fn put(&mut self, id: u16, value: &[u8]) {
        let len = 4 + value.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&id.to_ne_bytes());
        self.0.extend_from_slice(value);
        let pad = (4 - len % 4) % 4;
        self.0.extend_from_slice(&[0u8; 3][..pad]);
    }
}

impl GenlFamily for VrMessage {
    fn family_name() -> &'static str {
        FAMILY_NAME
    }
    fn command(&self) -> u8 {
        self.cmd
    }
    fn version(&self) -> u8 {
        FAMILY_VERSION
    }
}

impl Emitable for VrMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.0.as_slice().buffer_len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.0.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for VrMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(VrMessage {
            cmd: header.cmd,
            attrs: Attrs::parse(buf)?,
        })
    }
}
