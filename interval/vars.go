package interval

// Variable prefixes: $(value_h), $(av_h), $(dev_h), $(z_h) and
// $(entropy_h) are numbers; $(top_h) is text from a log line.
const (
	VarValue   = "value_"
	VarAv      = "av_"
	VarDev     = "dev_"
	VarZ       = "z_"
	VarEntropy = "entropy_"
	VarTop     = "top_"
)

// AddVars adds the sample's variables for commands, reports and the
// comparisons of class expressions: its value, av, dev, z and entropy
// (those it has) to vars, and its top key to keys. This is
// the one place they are built, for the daemon and for backtest's
// simulation of commands and reports alike.
func (s *Sample) AddVars(vars map[string]float64, keys map[string]string) {
	for _, v := range []struct {
		name string
		p    *float64
	}{{VarValue, s.Value}, {VarAv, s.Av}, {VarDev, s.Dev}, {VarZ, s.Z}, {VarEntropy, s.Entropy}} {
		if v.p != nil {
			vars[v.name+s.Handle] = *v.p
		}
	}
	if s.TopKey != "" {
		keys[VarTop+s.Handle] = s.TopKey
	}
}
