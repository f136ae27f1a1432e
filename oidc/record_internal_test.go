package oidc

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestRecordJSONCompatible: requests and tokens stored by encoding/json
// (before the records moved to JSON v2) read back the same, and what is
// written now reads back with encoding/json the same, invalid UTF-8 in a
// client's parameters included.
func TestRecordJSONCompatible(t *testing.T) {
	age := uint(60)
	now := time.Date(2026, 12, 6, 8, 30, 0, 123456789, time.UTC)
	for _, d := range []loginData{
		{},
		{Scopes: []string{"openid", "profile"}, ResponseType: "code", RedirectURI: "https://rp.example/cb?x=<&>",
			State: "st\xff\xfeate", Nonce: "n\u00e9", Challenge: "c", Prompt: []string{"login"}, UILocales: "zh-CN en",
			MaxAge: &age, ACRValues: []string{ACRHigh}, Claims: []string{"name"}, Refused: []string{"picture"},
			WalletNonce: "w", Browser: "b", Subject: "s", ACR: ACRHigh, AMR: []string{"hwk", "pop"}, AuthTime: now,
			Citizen: []byte{0, 1, 255}, CitizenKey: []byte("k"), Sealed: []byte{9, 9}, Granted: []string{"name"}, Created: now},
	} {
		v1, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var want, got, back loginData
		if err := json.Unmarshal(v1, &want); err != nil {
			t.Fatal(err)
		}
		if err := unmarshalRecord(v1, &got); err != nil {
			t.Fatalf("read a record encoding/json wrote: %v", err)
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("read differently:\n%+v\n%+v", want, got)
		}
		v2, err := marshalRecord(got)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(v2, &back); err != nil {
			t.Fatalf("encoding/json reads %s: %v", v2, err)
		}
		if !reflect.DeepEqual(want, back) {
			t.Fatalf("round trip differs:\n%+v\n%+v", want, back)
		}
	}
	g := grantData{Scopes: []string{"openid"}, AMR: []string{"hwk"}, ACR: ACRHigh, AuthTime: now, Sealed: []byte{1, 2, 3}}
	rc := refreshClaims{ClientID: "bank", Subject: "s", AuthRequestID: "ar", Expires: now, Data: []byte(`{"a":1}`)}
	for _, v := range []any{&g, &rc} {
		v1, _ := json.Marshal(v)
		fresh := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := unmarshalRecord(v1, fresh); err != nil || !reflect.DeepEqual(fresh, v) {
			t.Fatalf("%T: %+v %v", v, fresh, err)
		}
	}
}
