//! Which process holds a local TCP port, where the OS says (Linux: `/proc`); used to say who is
//! in the way when a tunnel's fixed port is taken.

/// The name and id of the process listening on TCP `port`, when the OS tells.
pub fn holder_of(port: u16) -> Option<String> {
    imp::holder_of(port)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::fs;

    pub fn holder_of(port: u16) -> Option<String> {
        let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|path| fs::read_to_string(path).ok())
            .flat_map(|table| listening_inodes(&table, port))
            .collect();
        if inodes.is_empty() {
            return None;
        }
        for entry in fs::read_dir("/proc").ok()?.flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                let Ok(target) = fs::read_link(fd.path()) else {
                    continue;
                };
                let target = target.to_string_lossy();
                if inodes
                    .iter()
                    .any(|inode| target == format!("socket:[{inode}]").as_str())
                {
                    let name = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                    return Some(format!("{} (pid {pid})", name.trim()));
                }
            }
        }
        None
    }

    /// The socket inodes listening on `port` in a `/proc/net/tcp*` table.
    pub(super) fn listening_inodes(table: &str, port: u16) -> Vec<String> {
        const LISTEN: &str = "0A";
        table
            .lines()
            .skip(1)
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let local = fields.get(1)?;
                let state = fields.get(3)?;
                let inode = fields.get(9)?;
                let local_port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
                (local_port == port && *state == LISTEN).then(|| (*inode).to_owned())
            })
            .collect()
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub fn holder_of(_port: u16) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_listening_socket_of_this_process_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let holder = holder_of(port).expect("this process holds it");
        assert!(
            holder.contains(&format!("(pid {})", std::process::id())),
            "{holder}"
        );
        drop(listener);
        assert_eq!(holder_of(port), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn only_listening_lines_of_the_port_count() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1\n\
           1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1\n";
        assert_eq!(imp::listening_inodes(table, 8080), ["4242"]);
        assert!(imp::listening_inodes(table, 8081).is_empty());
    }
}
