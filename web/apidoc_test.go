package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/internal/apidoc"
	"github.com/shenfen/shenfen/store/storetest"
)

// TestAPIDocLostPhone holds §5.1 and §5.2 of docs/api.md to the real
// citizen endpoints: the revocation code's answer, the documented lost-phone
// body (refused as written, its code being the example's, then accepted
// with the code the card got) and the suspension's answer.
func TestAPIDocLostPhone(t *testing.T) {
	ex, same := apidoc.Load(t)
	e := newCardsEnv(t, storetest.SQLite(t))
	mine := e.issue(t, "card-zhang", zhangID)
	rec := e.do("POST", "/api/wallet/revocation-code", "", e.cardAuth(mine, zhangID))
	if rec.Code != 201 {
		t.Fatalf("revocation code: %d %s", rec.Code, rec.Body)
	}
	same("wallet-revocation-code", rec.Body.Bytes())
	var got struct {
		Code string `json:"revocation_code"`
	}
	json.Unmarshal(rec.Body.Bytes(), &got)

	rec = e.do("POST", "/api/wallet/lost", string(ex["wallet-lost"]), jsonCT)
	if p := problemOf(t, rec); rec.Code != 403 || !strings.HasSuffix(p.Type, "/revocation-refused") {
		t.Fatalf("documented body with the example's code: %d %s", rec.Code, rec.Body)
	}
	var body map[string]string
	if err := json.Unmarshal(ex["wallet-lost"], &body); err != nil {
		t.Fatalf("wallet-lost: %v", err)
	}
	body["revocation_code"] = got.Code
	b, _ := json.Marshal(body)
	rec = e.do("POST", "/api/wallet/lost", string(b), jsonCT)
	if rec.Code != 200 {
		t.Fatalf("documented body with the card's code: %d %s", rec.Code, rec.Body)
	}
	same("wallet-lost-suspended", rec.Body.Bytes())
}
