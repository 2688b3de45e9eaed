//! The protobuf (proto2) wire format for the few CRIU RPC messages hull uses: field numbers follow
//! criu's rpc.proto (MIT-licensed, not vendored). Written by hand: varints and length-delimited
//! fields are all these messages need, and there is no protoc on the build machines.

/// Builds one message.
#[derive(Default)]
pub struct Enc(pub Vec<u8>);

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

impl Enc {
    pub fn uint(&mut self, field: u32, v: u64) -> &mut Self {
        varint(&mut self.0, u64::from(field) << 3);
        varint(&mut self.0, v);
        self
    }
    /// int32: negative values are sign-extended to 10 bytes, as proto2 does.
    pub fn int(&mut self, field: u32, v: i32) -> &mut Self {
        self.uint(field, i64::from(v) as u64)
    }
    pub fn bool(&mut self, field: u32, v: bool) -> &mut Self {
        self.uint(field, u64::from(v))
    }
    pub fn bytes(&mut self, field: u32, v: &[u8]) -> &mut Self {
        varint(&mut self.0, (u64::from(field) << 3) | 2);
        varint(&mut self.0, v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }
    pub fn str(&mut self, field: u32, v: &str) -> &mut Self {
        self.bytes(field, v.as_bytes())
    }
    pub fn msg(&mut self, field: u32, m: &Enc) -> &mut Self {
        self.bytes(field, &m.0)
    }
}

/// One decoded field.
#[derive(Debug, PartialEq)]
pub enum Val<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

fn read_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Every (field, value) of a message; `None` if it is malformed.
pub fn decode(b: &[u8]) -> Option<Vec<(u32, Val<'_>)>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let key = read_varint(b, &mut at)?;
        let field = u32::try_from(key >> 3).ok()?;
        let v = match key & 7 {
            0 => Val::Int(read_varint(b, &mut at)?),
            1 => {
                let s = b.get(at..at + 8)?;
                at += 8;
                Val::Int(u64::from_le_bytes(s.try_into().ok()?))
            }
            2 => {
                let n = usize::try_from(read_varint(b, &mut at)?).ok()?;
                let s = b.get(at..at.checked_add(n)?)?;
                at += n;
                Val::Bytes(s)
            }
            5 => {
                let s = b.get(at..at + 4)?;
                at += 4;
                Val::Int(u64::from(u32::from_le_bytes(s.try_into().ok()?)))
            }
            _ => return None,
        };
        out.push((field, v));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut inner = Enc::default();
        inner.int(1, 7);
        let mut m = Enc::default();
        m.uint(1, 300).int(2, -1).str(3, "abc").msg(4, &inner);
        let f = decode(&m.0).unwrap();
        assert_eq!(f[0], (1, Val::Int(300)));
        assert_eq!(f[1], (2, Val::Int(u64::MAX)));
        assert_eq!(f[2], (3, Val::Bytes(b"abc")));
        assert_eq!(f[3], (4, Val::Bytes(&[8, 7])));
        // 300 = 0xac 0x02 on the wire.
        assert_eq!(&m.0[..3], &[8, 0xac, 0x02]);
        assert!(decode(&[0x0a, 5, 1]).is_none());
    }
}
