//! The one parser of the two /proc texts hull reads about mounts and cgroups: a line of
//! `/proc/<pid>/mountinfo` ([`MountEntry`], [`parse_line`], [`unescape`]) and a line of
//! `/proc/<pid>/cgroup` ([`ProcCgroupLine`], [`parse_cgroup_line`]). Pure functions over
//! borrowed text, no I/O and no dependencies, so that the runtime, hull-cgroups and the shim
//! (which keeps its dependency tree small) all read these files the same way.
use std::borrow::Cow;

/// One line of /proc/<pid>/mountinfo (proc(5)), borrowed from the text; paths unescaped.
///
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry<'a> {
    pub id: &'a str,
    pub parent: &'a str,
    /// The path inside the filesystem that is mounted (field 4; not "/" for a bind mount).
    pub root: Cow<'a, str>,
    pub mount_point: Cow<'a, str>,
    /// Per-mount options ("rw,nosuid,relatime").
    pub options: &'a str,
    /// The optional fields, space-separated ("shared:1 master:2"), "" when there are none.
    pub optional: &'a str,
    pub fstype: &'a str,
    pub source: Cow<'a, str>,
    /// Super-block options ("rw,memory" for a v1 cgroup).
    pub super_options: &'a str,
}

impl MountEntry<'_> {
    /// The mount is in a shared peer group (a `shared:N` optional field).
    pub fn is_shared(&self) -> bool {
        self.optional.split(' ').any(|o| o.starts_with("shared:"))
    }
}

/// Parse one mountinfo line; the error names what is missing.
pub fn parse_line(line: &str) -> Result<MountEntry<'_>, &'static str> {
    let (pre, post) = line.split_once(" - ").ok_or("no ' - ' separator")?;
    let mut f = pre.splitn(7, ' ');
    let mut next = || f.next().ok_or("too few fields");
    let (id, parent, _dev, root, mount_point, options) =
        (next()?, next()?, next()?, next()?, next()?, next()?);
    let optional = f.next().unwrap_or("");
    let mut p = post.split(' ');
    let mut next = || p.next().ok_or("too few fields");
    let (fstype, source, super_options) = (next()?, next()?, next()?);
    Ok(MountEntry {
        id,
        parent,
        root: unescape(root),
        mount_point: unescape(mount_point),
        options,
        optional,
        fstype,
        source: unescape(source),
        super_options,
    })
}

/// mountinfo escapes space, tab, newline and backslash as \ooo; borrowed when there is none.
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                if let Ok(v) = u8::from_str_radix(std::str::from_utf8(oct).unwrap_or("x"), 8) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// One line of /proc/<pid>/cgroup: `hierarchy-id:controller,list:path` (`0::/path` for cgroup2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcCgroupLine<'a> {
    pub hierarchy: u32,
    /// The comma-separated controllers ("cpu,cpuacct", "name=systemd"), "" for cgroup2.
    pub controllers: &'a str,
    pub path: &'a str,
}

impl<'a> ProcCgroupLine<'a> {
    /// The controllers one by one (none for the cgroup2 line).
    pub fn controller_names(&self) -> impl Iterator<Item = &'a str> {
        self.controllers.split(',').filter(|s| !s.is_empty())
    }
}

/// Parse one /proc/<pid>/cgroup line; None when it is not `number:list:path`.
pub fn parse_cgroup_line(line: &str) -> Option<ProcCgroupLine<'_>> {
    let mut it = line.splitn(3, ':');
    let hierarchy = it.next()?.parse().ok()?;
    let controllers = it.next()?;
    let path = it.next()?;
    Some(ProcCgroupLine {
        hierarchy,
        controllers,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_line_fields_and_optional_fields() {
        let e = parse_line(
            "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:4 - ext3 /dev/root rw,errors=continue",
        )
        .unwrap();
        assert_eq!((e.id, e.parent), ("36", "35"));
        assert_eq!((&*e.root, &*e.mount_point), ("/mnt1", "/mnt2"));
        assert_eq!(e.options, "rw,noatime");
        assert_eq!(e.optional, "master:1 shared:4");
        assert!(e.is_shared());
        assert_eq!((e.fstype, &*e.source), ("ext3", "/dev/root"));
        assert_eq!(e.super_options, "rw,errors=continue");
        let e = parse_line("25 24 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw").unwrap();
        assert_eq!(e.optional, "");
        assert!(!e.is_shared());
    }

    #[test]
    fn malformed_mountinfo_lines_say_what_is_missing() {
        assert_eq!(parse_line("1 2 3 / /x rw"), Err("no ' - ' separator"));
        assert_eq!(
            parse_line("1 2 3 / - ext4 /dev/x rw"),
            Err("too few fields")
        );
        assert_eq!(parse_line("1 2 3 / /x rw - ext4"), Err("too few fields"));
    }

    #[test]
    fn escapes_are_decoded_and_plain_text_is_borrowed() {
        assert_eq!(unescape("/a\\040b\\011c\\134d"), "/a b\tc\\d");
        assert!(matches!(unescape("/plain"), Cow::Borrowed("/plain")));
        // Not an octal escape: kept as it is.
        assert_eq!(unescape("/x\\9y\\04"), "/x\\9y\\04");
        let e = parse_line("1 2 0:1 / /with\\040space rw - tmpfs my\\040src rw").unwrap();
        assert_eq!((&*e.mount_point, &*e.source), ("/with space", "my src"));
    }

    #[test]
    fn proc_cgroup_lines() {
        let l = parse_cgroup_line("3:cpu,cpuacct:/a/b").unwrap();
        assert_eq!((l.hierarchy, l.path), (3, "/a/b"));
        assert_eq!(l.controller_names().collect::<Vec<_>>(), ["cpu", "cpuacct"]);
        let l = parse_cgroup_line("0::/with:colon").unwrap();
        assert_eq!((l.hierarchy, l.controllers, l.path), (0, "", "/with:colon"));
        assert_eq!(l.controller_names().count(), 0);
        assert_eq!(parse_cgroup_line("x::/"), None);
        assert_eq!(parse_cgroup_line("1:memory"), None);
    }
}
