package observe

import "github.com/gatewayd/gatewayd/core/handler"

// Multi returns an Observer that tells each of obs, in order, of every Begin
// and End. Nil observers are left out; with none left Multi returns nil (no
// observer at all), with one it returns that one.
func Multi(obs ...handler.Observer) handler.Observer {
	var m multi
	for _, o := range obs {
		if o != nil {
			m = append(m, o)
		}
	}
	switch len(m) {
	case 0:
		return nil
	case 1:
		return m[0]
	}
	return m
}

type multi []handler.Observer

var _ handler.Observer = multi(nil)

func (m multi) Begin(req *handler.Request, info *handler.Info) {
	for _, o := range m {
		o.Begin(req, info)
	}
}

func (m multi) End(req *handler.Request, info *handler.Info, res *handler.Result) {
	for _, o := range m {
		o.End(req, info, res)
	}
}
