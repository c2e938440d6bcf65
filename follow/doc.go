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
//	                 closed; then the files rotated in after it, if any,
//	                 are read (see the rotated set, below)
//	    any other error (EACCES, EIO, ...)
//	              -> reported once per episode (EventOpenError), never
//	                 fatal; the open file keeps being read; checked again
//	    ENOENT, nothing open under the name (missing at startup, or
//	    deleted)
//	              -> the name's rotated set is noted once; the files that
//	                 came into it when the name appears again (created,
//	                 written and rotated away between two looks) are read
//	                 whole, oldest first, before the new file
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
//	    one of the sampled windows differs: SampleLen (64) bytes at every
//	    multiple of a stride, a power of two ≥ 1024 that doubles as the
//	    content grows so that 8 to 16 windows span what was read
//	              -> TRUNCATED (refilled keeping the first bytes)
//	    the TailLen bytes (≤ 64) just before Offset differ from those
//	    delivered
//	              -> TRUNCATED (refilled to the same or a larger size)
//	    TRUNCATED: the old content's copy is looked for in the name's
//	    rotated set (below), newest first: a file other than those being
//	    read whose content matches the head, the sampled windows and the
//	    tail at Offset — logrotate's copytruncate made it, plain or gzip;
//	    when several do, the shortest (the first made after the content
//	    was read). Found, it is read from Offset to its end as a complete
//	    file (its partial last line included), and any later copies whole.
//	    Not found, the partial last line already read is delivered; a copy
//	    shorter than Offset that agrees with what is known of the content
//	    before (first bytes, the sampled windows it covers, the bytes
//	    before Offset its end reaches) holds nothing unread — the lines
//	    written between logrotate's copy and its truncation were read
//	    from the file — and any later copies are read whole; with no copy
//	    at all, an EventLost says that what was written after Offset, if
//	    anything, was not read. Then the file is read again from 0
//	    (EventTruncate).
//	    Lines written between logrotate's copy and its truncation are in
//	    no file. A writer without O_APPEND (a shell's "> log") writes on
//	    at its old offset and leaves a hole of NUL bytes as long as the old
//	    content was, at the start of the truncated file and of each later
//	    copy: the hole is skipped, and the bytes beyond what was read or
//	    copied of the content before are proven lost (EventLost,
//	    SourceStats.LostBytes), as are bytes of the old content seen by
//	    stat and never read. An O_APPEND writer leaves no trace of them:
//	    nobody can count those.
//	    nothing of the content read yet (the file was empty, or held only
//	    a partial line or a hole, at the last look): nothing in the file
//	    tells a copytruncate since from appends. At every such look the
//	    rotated set is described (each file's identity, size and
//	    modification time, and the first bytes of the plain ones); files
//	    that came into it since, not being read, starting with what was
//	    seen of the content, and not a plain file of it compressed since,
//	    are copies of content written, copied and truncated between two
//	    looks -> TRUNCATED: they are read whole, oldest first (the first
//	    with the hole the content may start with), then the file from 0.
//	    An empty head proves nothing, so none of these is a copy: an empty
//	    file (logrotate compressing an empty log it rotated); a file whose
//	    content was read whole or drained to its end, or is that of a file
//	    being drained (create and compress: app.log renamed to app.log.1,
//	    drained, and app.log.1.gz in its place), plain or compressed; a
//	    file that holds what the followed file starts with now (the
//	    followed file itself, renamed and compressed since the name was
//	    looked at). The description of the set keeps the files an earlier
//	    look saw and a later one missed: a listing taken while logrotate
//	    renames the set (app.log.3.gz to app.log.4.gz) can miss a file,
//	    which is no copy when it shows again.
//	    A truncation between this check and the read: a writer without
//	    O_APPEND leaves NUL bytes where the content read went on, so the
//	    current file's read stops at a NUL byte where it goes on; an
//	    O_APPEND writer leaves the file shorter (the read finds its end)
//	    or refills it past Offset, so the bytes of every read of the
//	    current file are taken only once the file is seen, after the
//	    read, to still start with the first bytes known and to hold the
//	    bytes read just before them. Either way the content is checked
//	    again before a byte of it is taken.
//	(4) READ      draining files first, then the current one, each to its
//	              end; complete lines are delivered; a partial last line
//	              waits for its newline unless the file is finished.
//
//	DRAINING      read at every check. A rotated-away file is closed,
//	              after its partial last line is delivered, once unlinked
//	              or once it has not grown for RotateGrace (a writer that
//	              has not reopened its log yet keeps appending to the
//	              renamed file; those lines count); when it is renamed
//	              again (app.log.1 to app.log.2), its position follows it
//	              to its new name (EventMove). A complete file — a copy, a
//	              gzip file, a rotated file found at startup — is closed
//	              once read to its end.
//	FIFO          opened read-write (opening never waits for a writer, and
//	              one writer closing is not end-of-file for the next), read
//	              by its own goroutine, reopened when the name refers to
//	              another file; a FIFO has no position. Sync waits until
//	              its reader has delivered what was written before
//
// A name's rotated set is the files of its directory named as logrotate
// names rotated logs: the name plus ".N" (numbered), or plus a dated
// suffix ("-20261206", also with hours or seconds: dateext), either one
// possibly followed by ".gz"; a .gz file whose uncompressed twin is still
// there is left out (gzip is at work, the twin is complete). Its order,
// oldest first: the highest number first; the earliest date first (dates
// sort as text in logrotate's formats). When a name is rotated more than
// once between two checks, the files rotated in after the one being read
// were never seen, and are read whole — but for a copy that holds what
// the followed file itself starts with: copytruncate made it and has not
// truncated yet; its lines are read from the file. The one being read is
// placed in the set by its identity; once unlinked (create and compress:
// renamed, compressed into a .gz twin and unlinked before the check), by
// its content's print — its size and the hashes of its first 1024 and
// last 4096 bytes, decompressed — in the newest file that has it; when
// empty, which any empty file matches, by what the set held at the last
// look: the files that came into it since, not empty and not compressed
// twins of files that were there, are the ones rotated in after it. A
// file of the set that is gone when it is opened (gzip finished with it
// and it was unlinked) makes the set be listed again, when its .gz twin
// is complete. An unlinked file whose content is in no file of the set
// (deleted, or compressed other than by gzip) places nothing.
//
// Content checks cannot see a rewrite that leaves the first bytes, every
// sampled window and the bytes before Offset unchanged. The inode's change
// time is no help: every append moves it, so a changed ctime cannot tell a
// rewrite from an append, and an unchanged one is only as fine as the
// filesystem's timestamps, which a truncation and refill within one tick
// escapes. Copies that logrotate moves to another directory (olddir) are
// not found. Under inotify, directories whose names hold glob characters
// are watched by the periodic re-check only.
//
// # Saved positions
//
// Every Batch ends with the position after its last line, under the name
// of the file it came from. Events that change where a file is read from
// carry the position reading starts or goes on from (Event.Pos): a file
// opened, reset, resumed, truncated, rotated away (under its new name) or
// renamed while drained; and EventClose, EventDelete and EventMove end the
// position saved under a name if it is still of that file (another file
// may have taken the name since). The daemon saves them with the samples
// of the interval in which they happened (never ahead of them: only the
// start of a file that holds nothing read before is saved at once, see
// Event.Pos), so that at every commit the
// saved positions describe the files in the order things happened: a
// rotated file's position is saved under its new name before the new
// file's start replaces it under the old one, a copy's before the
// truncated file's restart.
//
// # Startup
//
// At the first check, before the followed names are opened, each Saved
// position's content is looked for:
//   - the followed name still holds the saved file: open verifies the
//     position, as litestream verifies its WAL (the file is at least
//     Offset long, and every fingerprint matches), and reading resumes
//     there (EventResume). Otherwise it was truncated or rewritten while
//     logtally was stopped: its old content's copy is looked for in the
//     rotated set as for TRUNCATED (and read from Offset), and the file is
//     read from 0 (EventReset, saying why), watched for a hole. A copy
//     shorter than Offset holds nothing unread when it agrees with what
//     the position keeps of the content's start (Position.Prefixes: the
//     head, or the longest of its prefixes of 16 to 512 bytes the copy
//     covers, and the sampled windows that end within it): logrotate
//     copied the file before logtally read past the copy's end. Nothing
//     is reported lost then, and the copies made after it are read
//     whole;
//   - another file holds the name, or none: the saved file was rotated
//     away. It is looked up by (device, inode) under its saved name and in
//     that name's directory (and its symlink target's), and verified (a
//     file there that has the identity but neither verifies nor bears a
//     name of the rotated set took a freed inode: it is not the file); when
//     it is not there or does not verify — compressed (gzip makes a new
//     file), or copied away — by its fingerprints in the rotated set,
//     reading gzip files through a decompressor and checking the
//     fingerprints on the decompressed bytes. Found, it is drained from
//     the saved offset; not found, an EventLost says which bytes may be
//     lost;
//   - positions saved for rotated files still being drained are resumed
//     the same way.
//
// A position at offset 0 (no complete line of the file read yet) describes
// no content, so a copytruncate while logtally was stopped leaves nothing
// to verify it against; it carries instead what the name's rotated set
// held when it was saved (Position.Rotated). The files that came into the
// set since, as for a check of such a file, are copies of content written
// while logtally was stopped: they are read whole, oldest first, before
// the file itself. Likewise when such a file was rotated away while
// logtally was stopped: any file verifies its position, and its inode,
// freed when gzip replaced the file, may be another's now (logrotate's
// state file, a newer rotated file), so it is not looked for; the files
// that came into the set since are read whole, oldest first, then the
// followed name's new file.
//
// When a saved file was found in the rotated set under another name than
// it was saved under, the files rotated in after the newest such file were
// created and rotated away while logtally was stopped: they are read whole,
// oldest first, then the followed name's new file from 0. Each file is
// read once: identities already being read are skipped. The saved files
// no followed name holds are placed first, so that a file with a saved
// position of its own is drained from it, never also read whole as one of
// the copies that came into a truncated file's set.
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
