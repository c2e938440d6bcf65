package state

import (
	"fmt"
	"strconv"
)

// The spool is a bounded FIFO of output records (line-protocol lines) per
// destination, kept in the state file so that an outage of the destination
// loses nothing up to the bound, and a restart resends what was not yet
// acknowledged. Records are pushed in the same transaction as the samples
// they describe (an outbox), and removed once the destination accepted them.
//
// Keys: spool/<dest>/<seq, 20 digits> for records and spoolmeta/<dest> for
// the head and tail sequence numbers and the count of dropped records.

// SpoolMeta describes one destination's spool.
type SpoolMeta struct {
	Head    uint64 `json:"head"`    // sequence number of the oldest record
	Tail    uint64 `json:"tail"`    // sequence number the next record gets
	Dropped uint64 `json:"dropped"` // records dropped because the spool was full
}

// Len is the number of records in the spool.
func (m SpoolMeta) Len() uint64 { return m.Tail - m.Head }

func spoolKey(dest string, seq uint64) string {
	return fmt.Sprintf("spool/%s/%020d", dest, seq)
}

// SpoolMeta returns the spool's counters for dest.
func (t *Tx) SpoolMeta(dest string) (SpoolMeta, error) {
	var m SpoolMeta
	_, err := t.GetJSON("spoolmeta/"+dest, &m)
	return m, err
}

// SpoolPush appends records to dest's spool. When the spool would exceed max
// records the oldest are dropped and counted; it returns how many were
// dropped by this push.
func (t *Tx) SpoolPush(dest string, records []string, max int) (int, error) {
	if max <= 0 {
		return 0, fmt.Errorf("spool push %s: max must be positive", dest)
	}
	m, err := t.SpoolMeta(dest)
	if err != nil {
		return 0, err
	}
	for _, r := range records {
		if err := t.Set(spoolKey(dest, m.Tail), r); err != nil {
			return 0, err
		}
		m.Tail++
	}
	dropped := 0
	for m.Len() > uint64(max) {
		if err := t.Delete(spoolKey(dest, m.Head)); err != nil {
			return dropped, err
		}
		m.Head++
		m.Dropped++
		dropped++
	}
	return dropped, t.SetJSON("spoolmeta/"+dest, m)
}

// SpoolPeek returns up to n of the oldest records of dest's spool and the
// sequence number just after the last one returned (to pass to SpoolAck).
func (t *Tx) SpoolPeek(dest string, n int) ([]string, uint64, error) {
	m, err := t.SpoolMeta(dest)
	if err != nil {
		return nil, 0, err
	}
	var out []string
	next := m.Head
	prefix := "spool/" + dest + "/"
	err = t.Ascend(prefix, func(key, value string) bool {
		seq, err := strconv.ParseUint(key[len(prefix):], 10, 64)
		if err != nil || seq < m.Head {
			return true
		}
		out = append(out, value)
		next = seq + 1
		return len(out) < n
	})
	return out, next, err
}

// SpoolAck removes dest's records with sequence numbers below upTo.
func (t *Tx) SpoolAck(dest string, upTo uint64) error {
	m, err := t.SpoolMeta(dest)
	if err != nil {
		return err
	}
	if upTo > m.Tail {
		upTo = m.Tail
	}
	for ; m.Head < upTo; m.Head++ {
		if err := t.Delete(spoolKey(dest, m.Head)); err != nil {
			return err
		}
	}
	return t.SetJSON("spoolmeta/"+dest, m)
}
