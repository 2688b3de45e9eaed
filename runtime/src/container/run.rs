//! `hull run`: create + start, then (unless detached) forward signals to the container and return
//! its exit code (128+signal when it was killed), deleting it afterwards unless `--keep`.

use super::create::{create, CreateArgs};
use super::start::start_locked;
use super::state::Store;
use super::tty::Foreground;
use crate::error::{Error, Result};

pub fn run(store: &Store, a: &CreateArgs, detach: bool, keep: bool) -> Result<i32> {
    // Foreground without --console-socket: if the config asks for a terminal, hull is the console.
    let (fg, theirs) = match detach {
        true => (None, None),
        false => {
            let (fg, theirs) = Foreground::begin(a.console_socket.is_none())?;
            (Some(fg), theirs)
        }
    };
    if !detach {
        // A slow-path init is our grandchild: make it reparent to us so we can wait for it.
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }
    let result = (|| {
        let args;
        let a = match &theirs {
            Some(theirs) => {
                args = CreateArgs {
                    console_fd: Some(
                        theirs
                            .try_clone()
                            .map_err(|e| Error::io("dup console fd", "", e))?,
                    ),
                    ..a.clone_args()
                };
                &args
            }
            None => a,
        };
        let (st, dir) = create(store, a)?;
        crate::failpoint::hit("run:after-create");
        let pid = st.pid;
        if let Err(e) = start_locked(&dir, st) {
            drop(dir);
            let _ = super::delete::delete(store, &a.id, true);
            return Err(e);
        }
        drop(dir);
        crate::failpoint::hit("run:after-start");
        Ok(pid)
    })();
    let pid = result?;
    drop(theirs);
    let Some(fg) = fg else {
        return Ok(0);
    };
    let code = fg.wait(pid);
    crate::failpoint::hit("run:after-exit");
    if !keep {
        super::delete::delete(store, &a.id, true)?;
    }
    code
}
