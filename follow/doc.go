// Package follow reads log streams — growing files, FIFOs and the output
// of commands — and delivers their complete lines in batches, without
// losing or double-counting a line across rotation, truncation, deletion,
// permission trouble and restarts. Lines are framed by package lines; every
// batch of a file carries the Position just after its last line, which the
// daemon saves in the same transaction as the samples those lines produced,
// so that a restart resumes exactly there.
//
// # Why not nxadm/tail for following
//
// The follower is our own: fsnotify for inotify, plus a polling mode.
// github.com/nxadm/tail falls short for a daemon that must never die and
// never miscount: its watch package calls os.Exit (util.Fatal) when a stat
// fails with anything but ENOENT (for example EACCES during logrotate's
// create-then-chmod window); it keeps package-level global state (a shared
// inotify tracker, POLL_DURATION); it detects truncation by size only, so it
// misses a copytruncate refilled to the same or a larger size; and it reads
// by name rather than by identity. nxadm/tail is used where it serves: its
// ratelimiter.LeakyBucket, with an injectable Now, limits the logging of
// commands' stderr.
//
// # File state machine
//
// Each followed name (a configured path, or a match of a configured glob)
// is checked at every wake-up: an inotify event in its directory (under
// Watch "inotify"), a tick every PollEvery (the poll period, and the
// safety re-check under inotify), or Files.Sync. Events arriving together
// are coalesced into one check. A check does, in this order:
//
//	(1) RESOLVE   globs are expanded again on ticks, on Sync and on
//	              directory events (create, rename, remove), not on plain
//	              writes. A match that appears after startup is a new file.
//	(2) IDENTITY  stat(name), following symlinks, gives (device, inode):
//	    same identity as the file being read
//	              -> (3)
//	    another identity (rename + create, swapped symlink, delete + recreate)
//	              -> ROTATED: the old file becomes DRAINING, under the name
//	                 it now has in its directory; the new file is read from 0
//	    ENOENT, the file being read is still linked
//	              -> MOVED (renamed away): still read as the current file
//	                 until a new file appears under the name
//	    ENOENT, the file being read has no link left
//	              -> DELETED: read to its end, partial last line delivered,
//	                 closed
//	    any other error (EACCES, EIO, ...)
//	              -> reported once per episode (EventOpenError), never
//	                 fatal; the open file keeps being read; checked again
//	    nothing open under the name yet
//	              -> opened; an open error (logrotate's create-then-chmod
//	                 window) is reported once and retried at every check;
//	                 the file is then read from 0, so nothing is lost
//	(3) CONTENT   same identity, checked before anything new is read:
//	    size < offset read so far
//	              -> TRUNCATED (truncated smaller)
//	    the first HeadLen bytes (≤ 1024, taken at open, extended as the
//	    file grows past them) differ
//	              -> TRUNCATED (rewritten, refilled to the same or a larger
//	                 size)
//	    the TailLen bytes (≤ 64) just before Offset differ from those
//	    delivered
//	              -> TRUNCATED (refilled to the same or a larger size)
//	    TRUNCATED: the partial last line already read from the old content
//	    is delivered, then reading restarts at 0 (EventTruncate)
//	(4) READ      draining files first, then the current one, each to its
//	              end; complete lines are delivered; a partial last line
//	              waits for its newline unless the file is finished.
//
//	DRAINING      read at every check; closed, after its partial last line
//	              is delivered, once unlinked or once it has not grown for
//	              RotateGrace (a writer that has not reopened its log yet
//	              keeps appending to the renamed file; those lines count)
//	FIFO          opened read-write (opening never waits for a writer, and
//	              one writer closing is not end-of-file for the next), read
//	              by its own goroutine, reopened when the name refers to
//	              another file; a FIFO has no position. Sync waits until
//	              its reader has delivered what was written before
//
// Content checks cannot see a rewrite that leaves the first bytes and the
// bytes before Offset unchanged, nor lines written between logrotate's copy
// and its truncate (copytruncate's own window). Under inotify, directories
// whose names hold glob characters are watched by the periodic re-check
// only.
//
// # Startup and saved positions
//
// At the first check, Saved positions (by name) are matched by identity:
//   - the name still holds the saved file: the position is verified, as
//     litestream verifies its WAL (the file is at least Offset long, and
//     both fingerprints match), and reading resumes there (EventResume);
//     otherwise it was truncated or rewritten while logtally was stopped
//     and is read from 0 (EventReset, saying why);
//   - the name holds another file: the saved one was rotated while
//     logtally was stopped. It is looked up by (device, inode) among the
//     files of the same directory, verified, and drained from the saved
//     offset; then the new file is read from 0. When it is not found, or
//     does not verify, an EventLost says which bytes may be lost;
//   - positions saved for rotated files still being drained are resumed
//     the same way.
//
// Lines that were in a file when logtally started — the catch-up after a
// resume, or the whole file with Start "beginning" — are delivered with
// Batch.Backlog set; lines written after startup without. A file seen for
// the first time starts at its end (Start "end": just after its last
// complete line, so a line being written is delivered whole) or its
// beginning.
//
// # Pipe state machine
//
// A command runs directly (argv, never a shell) in its own process group:
//
//	STARTING --start fails (not found, ...)--> EventStartError, backoff
//	STARTING --> RUNNING: stdout lines delivered as they come; stderr
//	             logged, rate-limited; the pipe is read without blocking
//	             the caller's other streams
//	RUNNING --leader exits--> the rest of its group is killed, the output
//	             read to its end (the partial last line counts: the stream
//	             is complete) --> EXITED (EventExit)
//	RUNNING --timeout (interval mode), output limit, or shutdown-->
//	             SIGKILL to the whole group --> KILLED (EventKill)
//	EXITED/KILLED --stream mode--> backoff (doubling, reset after a long
//	             run) --> STARTING; interval mode: RunOnce returns.
//
// A process that left the group and keeps the pipe open cannot hold a run:
// after the group is dead, waiting for more output is bounded.
package follow
