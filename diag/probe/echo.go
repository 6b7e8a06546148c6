package probe

import (
	"context"
	"net/netip"
	"time"

	"github.com/netkit/netkit/diag"
	"github.com/netkit/netkit/echo"
)

// reasonNotEcho is the reason of a service that accepted the connection
// but did not answer as a netkit echo server.
const reasonNotEcho = "NOT-ECHO"

// echo is netkit's echo prober: a connect (and TLS handshake unless
// Plaintext) to every address, then an echo info round trip on each.
func (r *run) echo(ctx context.Context) error {
	ok, err := r.resolve(ctx)
	if !ok {
		return err
	}
	var info *echo.TLSInfo
	var rtt time.Duration
	err = r.eachAddress(ctx, "echo", func(ctx context.Context, a netip.Addr) (string, error) {
		c, err := r.dial(ctx, a, r.m.Plaintext)
		if err != nil {
			return stepOfDial(err), err
		}
		defer c.Close()
		_, d, err := c.Info(ctx)
		if err != nil {
			if Reason(err, r.host, r.port) == ReasonOther {
				err = &findingError{code: reasonNotEcho, msg: "no netkit echo reply: " + err.Error()}
			}
			return "echo", err
		}
		if a == r.res.Primary {
			info, rtt = c.Session().TLS, d
		}
		return "", nil
	})
	if info != nil {
		r.tlsSamples(info)
	}
	if err == nil {
		r.add("probe_echo_round_trip_seconds", rtt.Seconds())
	}
	r.res.Success = err == nil
	return nil
}

// diagnose is netkit's diagnose prober: every step of 'netkit diagnose'
// as probe_step_success{step} and probe_step_duration_seconds{step}. The
// name is resolved first so that a target Options.Allowed refuses is
// refused as a whole; diagnose checks Options.Allowed again on the
// addresses it resolves itself, so that an answer that changed in between
// (DNS rebinding) sends nothing either.
func (r *run) diagnose(ctx context.Context) error {
	if _, err := r.resolve(ctx); err != nil {
		return err
	}
	r.res.Failures = nil // diagnose's own resolve step says it again, better
	tls := diag.TLSAuto
	if r.m.Plaintext {
		tls = diag.TLSOff
	}
	// The connect and the handshake each may take Client.Timeout, and the
	// echo step a second more: a third of the probe's time for each leaves
	// the step that hangs time to say so before the probe ends.
	client := r.client(ctx, r.m.Plaintext)
	client.Timeout = min(client.Timeout/3, diag.DefaultTimeout)
	rep, err := diag.Diagnose(ctx, diag.Options{Host: r.host, Port: r.port, Resolver: r.o.Resolver, Allowed: r.o.Allowed,
		TLS: tls, Client: client, PingCount: max(r.m.PingCount, 1)})
	if err != nil {
		return &TargetError{Target: r.target, Why: err.Error()}
	}
	for _, s := range rep.Steps {
		r.log.Info("Step", "step", string(s.Name), "status", string(s.Status), "summary", s.Summary)
		if s.Status == diag.StatusSkip {
			continue
		}
		step := Label{"step", string(s.Name)}
		r.add("probe_step_success", boolValue(s.Status != diag.StatusFail), step)
		r.add("probe_step_duration_seconds", s.DurationMS/1000, step)
		if s.Status == diag.StatusFail {
			reason := ReasonOther
			if s.Explanation != nil {
				reason = s.Explanation.Code
			}
			r.failCode(string(s.Name), reason, s.Summary)
		}
	}
	for _, at := range rep.Connect {
		a := at.Address.Addr().Unmap()
		ok := at.State == "open"
		r.res.Addresses = append(r.res.Addresses, Address{Address: a, Success: ok})
		r.add("probe_address_success", boolValue(ok), Label{"address", a.String()}, Label{"family", familyName(a.Is4())})
	}
	r.res.Success = rep.OK
	return nil
}
