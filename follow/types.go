package follow

import (
	"fmt"
	"time"
)

// Fingerprint limits.
const (
	// MaxHeadLen is the most bytes of a file's start kept as its head
	// fingerprint.
	MaxHeadLen = 1024
	// MaxTailLen is the most bytes before a position's offset kept as its
	// tail fingerprint.
	MaxTailLen = 64
)

// Position is where a followed file was read to. It is saved in the state
// file in the same transaction as the samples those lines produced.
type Position struct {
	// Path is the name this position is for: the configured path or glob
	// match for the file being followed, or, for a rotated file being
	// drained, the name it was found under in the same directory (for
	// example auth.log.1), so that the old file's position and the new
	// file's never overwrite each other. Path is empty when the file has
	// no name to find it by again (deleted, or moved out of its
	// directory): such a position cannot be resumed and need not be saved.
	Path     string
	Dev, Ino uint64
	Offset   int64  // just after the last complete line delivered
	HeadLen  int    // fingerprint of the first HeadLen bytes (≤ MaxHeadLen) ...
	HeadHash uint64 //   ... of the file, taken when it was opened (or grew past them)
	TailLen  int    // fingerprint of the TailLen bytes (≤ MaxTailLen) just before Offset
	TailHash uint64
	// SampleCount windows of SampleLen bytes, at SampleStride,
	// 2·SampleStride, ... before Offset, are fingerprinted together by
	// SampleHash, so that a rewrite that keeps the head and the tail still
	// differs somewhere. Positions saved by earlier versions have none,
	// and are verified by their head and tail alone.
	SampleStride int64  `json:",omitempty"`
	SampleCount  int    `json:",omitempty"`
	SampleHash   uint64 `json:",omitempty"`
	// Prefixes keeps what verifies a copy of the content shorter than
	// Offset (logrotate's copytruncate copied the file, then logtally
	// read on past the copy's end before it was stopped): the hashes of
	// the content's first 16, 32, 64, ... 512 bytes that HeadLen covers,
	// then of each sampled window, 8 bytes each, little-endian, in
	// unpadded standard base64. Positions saved by earlier versions have
	// none: such a copy is then not told from no copy.
	Prefixes string `json:",omitempty"`
	// Gzip: the file is gzip-compressed (a rotated log that logrotate
	// compressed); Offset and the fingerprints are of its decompressed
	// content.
	Gzip bool `json:",omitempty"`
	// Rotated describes, for a position at offset 0 (no complete line of
	// the file read yet), the newest files of its rotated set when it was
	// taken: a restart tells by it the copies made of content written,
	// copied and truncated away while logtally was stopped.
	Rotated string `json:",omitempty"`
	// Cursor is, for the journal, the cursor of the last entry delivered:
	// reading resumes just after it (see Journal).
	Cursor string `json:",omitempty"`
}

// IsZero reports whether p carries no position (pipes and FIFOs).
func (p Position) IsZero() bool { return p == Position{} }

// Line is one complete line, without its line ending.
type Line struct {
	Data []byte // valid only during the Handler call
	Cut  bool   // the line was longer than the limit and was cut to it
	// Time is when the source says the line was written, when it says so
	// apart from the text (a journal entry's __REALTIME_TIMESTAMP); zero
	// for files and pipes, whose lines carry their time in their text.
	Time time.Time
}

// Batch is consecutive complete lines of one source, delivered in order.
type Batch struct {
	Source string // file path, or "pipe:" + argv joined, for logs and metrics
	Lines  []Line // valid only during the Handler call
	// End is, for files, the position just after the last line (zero for
	// pipes and FIFOs).
	End Position
	// Backlog marks lines that were already in the file when logtally
	// (re)started: appended while it was down (the daemon attributes
	// those by their own timestamps). A batch never mixes backlog and
	// live lines.
	Backlog bool
}

// Handler receives what a follower reads.
type Handler interface {
	// Batch is called with consecutive lines of one source. Calls for one
	// source are sequential; different sources may be concurrent. The
	// batch and its lines must not be retained after the call returns.
	Batch(b *Batch)
	// Event reports rotation, truncation, an open error, a command exit
	// and the like, for the log and self-metrics.
	Event(e Event)
}

// EventKind says what an Event is about.
type EventKind int

// Event kinds.
const (
	// EventOpen: a file or FIFO was opened; Detail says where reading starts.
	EventOpen EventKind = iota + 1
	// EventRotate: the name now refers to another file (rename + create,
	// symlink swap, delete + recreate); the old file is drained, the new
	// one is read from its start.
	EventRotate
	// EventTruncate: the file was truncated or rewritten in place
	// (copytruncate); it is read again from its start. Detail says how it
	// was detected.
	EventTruncate
	// EventDelete: the followed file was unlinked; it was drained and closed.
	EventDelete
	// EventClose: a rotated file was drained and closed; the position
	// saved under Event.Path is no longer needed.
	EventClose
	// EventOpenError: a file could not be checked, opened or read. It is
	// reported once until the condition changes, and retried.
	EventOpenError
	// EventResume: a saved position was verified and reading resumes there.
	EventResume
	// EventReset: a saved position could not be used; Detail says why and
	// where reading starts instead.
	EventReset
	// EventLost: lines may have been lost (a rotated file was not found
	// again after a restart, a truncated file's old content has no copy),
	// or are proven lost (bytes written between logrotate's copy and its
	// truncation that a writer without O_APPEND left a hole for); Detail
	// says which bytes.
	EventLost
	// EventStartError: a command could not be started (for example it does
	// not exist); it is retried with backoff.
	EventStartError
	// EventExit: a command exited; Err is set when it failed.
	EventExit
	// EventKill: a command's process group was killed because of what it
	// did; Detail says why (timeout, output limit, its output unreadable).
	EventKill
	// EventMove: a rotated file being drained was renamed again (rotated
	// once more); its position, saved under Path, is now under Pos.Path.
	EventMove
	// EventStop: a command's process group was killed because its run was
	// asked to stop (the context ended: shutdown, the stream removed) —
	// not because of anything the command did.
	EventStop
)

// String returns the kind's short name.
func (k EventKind) String() string {
	switch k {
	case EventOpen:
		return "open"
	case EventRotate:
		return "rotate"
	case EventTruncate:
		return "truncate"
	case EventDelete:
		return "delete"
	case EventClose:
		return "close"
	case EventOpenError:
		return "open-error"
	case EventResume:
		return "resume"
	case EventReset:
		return "reset"
	case EventLost:
		return "lost"
	case EventStartError:
		return "start-error"
	case EventExit:
		return "exit"
	case EventKill:
		return "kill"
	case EventMove:
		return "move"
	case EventStop:
		return "stop"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is something that happened to a source, for the log and
// self-metrics.
type Event struct {
	Kind   EventKind
	Source string // as in Batch.Source
	Path   string // the file concerned, when it differs from Source or matters
	Pid    int    // the command's process (and process group) id, for pipes
	Err    error
	Detail string
	// Pos is, for events that change where a regular file is read from
	// (EventOpen, EventReset, EventResume, EventRotate, EventTruncate,
	// EventMove), the position reading starts or goes on from, under the
	// name to save it under (Pos.Path; empty when the file has none).
	// Saved with the next commit — and, for EventOpen and EventReset of a
	// followed name's own file or of a file read from its start (not of a
	// copy read on from the offset its original was read to, which holds
	// lines not committed yet), at once when nothing is saved under the
	// name yet, so that a restart
	// after a crash resumes there instead of taking the file as seen for
	// the first time — it keeps the saved positions in step with the
	// files, in the order things happened. For EventClose, EventDelete and
	// EventMove, the position saved under Path is no longer needed when it
	// is of the same file (Pos.Dev, Pos.Ino): another file may have taken
	// the name since. A saved file found again under another identity
	// (gzip made a new file of it) ends its old position with an
	// EventClose of the old identity, then resumes under its new name.
	Pos Position
}

// String formats the event for a log line.
func (e Event) String() string {
	s := e.Kind.String() + " " + e.Source
	if e.Path != "" && e.Path != e.Source {
		s += " (" + e.Path + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// SourceStats are the self-metrics of one source. All counters only grow.
type SourceStats struct {
	Lines       uint64 // lines delivered, cut ones included
	Bytes       uint64 // bytes consumed by delivered lines, line endings included
	Cut         uint64 // lines cut for length
	Rotations   uint64 // files replaced under the name
	Truncations uint64 // truncations and in-place rewrites detected
	OpenErrors  uint64 // failed attempts to check or open a file
	Restarts    uint64 // command restarts (pipes)
	Kills       uint64 // commands killed (timeout, output limit); a stop asked for is not a kill
	Losses      uint64 // EventLost reports: lines may be, or are, lost
	LostBytes   uint64 // bytes proven lost (see EventLost)
	StderrLines uint64 // stderr lines of commands
	StderrDrop  uint64 // stderr lines not logged because of the rate limit
}

// Clock tells the time and makes timers. Tests inject a clock they step.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has elapsed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
