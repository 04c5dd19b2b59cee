package handler

// Observer watches requests go through a Handler, for metrics and access logs.
type Observer interface {
	// Begin is called before the app runs.
	Begin(req *Request, info *Info)
	// End is called once the response is finished or abandoned.
	End(req *Request, info *Info, res *Result)
}

// MultiObserver returns an Observer that tells each of obs, in order, of
// every Begin and End, as io.MultiWriter writes to each writer: the metrics
// and the access log watch the same Handler. Nil observers are left out;
// with none left it returns nil (no observer at all), with one it returns
// that one.
func MultiObserver(obs ...Observer) Observer {
	var m multiObserver
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

type multiObserver []Observer

var _ Observer = multiObserver(nil)

func (m multiObserver) Begin(req *Request, info *Info) {
	for _, o := range m {
		o.Begin(req, info)
	}
}

func (m multiObserver) End(req *Request, info *Info, res *Result) {
	for _, o := range m {
		o.End(req, info, res)
	}
}
