package imapparse

// GenURLAuth holds GENURLAUTH's URL and mechanism pairs (RFC 4467 §9).
type GenURLAuth struct {
	URLs  []string // rump URLs, as sent (ParseAuthURL reads them)
	Mechs []string // the mechanism for each URL, upper-case
}

// ResetKey holds RESETKEY's arguments (RFC 4467 §9).
type ResetKey struct {
	Mailbox    string   // decoded mailbox name; "" without one (all keys)
	HasMailbox bool     // a mailbox was given
	Mechs      []string // mechanisms, upper-case; nil if none given
}

// URLFetch holds URLFETCH's URLs (RFC 4467 §9).
type URLFetch struct {
	URLs []string // as sent
}

// parseGenURLAuth: "GENURLAUTH" 1*(SP url-rump SP mechanism).
func (r *Reader) parseGenURLAuth() (*GenURLAuth, error) {
	a := &GenURLAuth{}
	for {
		if err := r.sp("URL"); err != nil {
			return nil, err
		}
		u, err := r.astring("URL")
		if err != nil {
			return nil, err
		}
		if err := r.sp("URLAUTH mechanism"); err != nil {
			return nil, err
		}
		m, err := r.keyword("URLAUTH mechanism")
		if err != nil {
			return nil, err
		}
		a.URLs, a.Mechs = append(a.URLs, u), append(a.Mechs, m)
		if r.end() {
			return a, nil
		}
	}
}

// parseResetKey: "RESETKEY" [SP mailbox *(SP mechanism)].
func (r *Reader) parseResetKey() (*ResetKey, error) {
	a := &ResetKey{}
	if r.end() {
		return a, nil
	}
	if err := r.sp("mailbox name"); err != nil {
		return nil, err
	}
	var err error
	if a.Mailbox, err = r.mailbox("mailbox name"); err != nil {
		return nil, err
	}
	a.HasMailbox = true
	for !r.end() {
		if err := r.sp("URLAUTH mechanism"); err != nil {
			return nil, err
		}
		m, err := r.keyword("URLAUTH mechanism")
		if err != nil {
			return nil, err
		}
		a.Mechs = append(a.Mechs, m)
	}
	return a, nil
}

// parseURLFetch: "URLFETCH" 1*(SP url-full).
func (r *Reader) parseURLFetch() (*URLFetch, error) {
	a := &URLFetch{}
	for {
		if err := r.sp("URL"); err != nil {
			return nil, err
		}
		u, err := r.astring("URL")
		if err != nil {
			return nil, err
		}
		a.URLs = append(a.URLs, u)
		if r.end() {
			return a, nil
		}
	}
}
