package registry

import (
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math/rand/v2"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The demo generator makes synthetic but valid residents: real GB/T 2260
// address codes, Chinese names from common surnames and given-name
// characters, check characters computed, validity periods by the rules for
// second-generation cards (10 years under 26, 20 years under 46, long-term
// after). It is deterministic: the same seed and index give the same person.
// Generated ID numbers are distinct by construction (an index is mapped
// through a permutation of the number space), so N records are N residents.

// demoPlace is a district with its real address code.
type demoPlace struct {
	code, region, authority string
}

var demoPlaces = []demoPlace{
	{"440115", "广东省广州市南沙区", "广州市公安局南沙分局"},
	{"440106", "广东省广州市天河区", "广州市公安局天河区分局"},
	{"440104", "广东省广州市越秀区", "广州市公安局越秀区分局"},
	{"440305", "广东省深圳市南山区", "深圳市公安局南山分局"},
	{"440304", "广东省深圳市福田区", "深圳市公安局福田分局"},
	{"110105", "北京市朝阳区", "北京市公安局朝阳分局"},
	{"110108", "北京市海淀区", "北京市公安局海淀分局"},
	{"110101", "北京市东城区", "北京市公安局东城分局"},
	{"310104", "上海市徐汇区", "上海市公安局徐汇分局"},
	{"310115", "上海市浦东新区", "上海市公安局浦东分局"},
	{"310101", "上海市黄浦区", "上海市公安局黄浦分局"},
	{"120101", "天津市和平区", "天津市公安局和平分局"},
	{"500103", "重庆市渝中区", "重庆市公安局渝中区分局"},
	{"330106", "浙江省杭州市西湖区", "杭州市公安局西湖区分局"},
	{"320102", "江苏省南京市玄武区", "南京市公安局玄武分局"},
	{"510107", "四川省成都市武侯区", "成都市公安局武侯区分局"},
	{"420106", "湖北省武汉市武昌区", "武汉市公安局武昌区分局"},
	{"610113", "陕西省西安市雁塔区", "西安市公安局雁塔分局"},
	{"370202", "山东省青岛市市南区", "青岛市公安局市南分局"},
	{"350203", "福建省厦门市思明区", "厦门市公安局思明分局"},
	{"430104", "湖南省长沙市岳麓区", "长沙市公安局岳麓分局"},
	{"530102", "云南省昆明市五华区", "昆明市公安局五华分局"},
	{"210102", "辽宁省沈阳市和平区", "沈阳市公安局和平分局"},
	{"230103", "黑龙江省哈尔滨市南岗区", "哈尔滨市公安局南岗分局"},
	{"450103", "广西壮族自治区南宁市青秀区", "南宁市公安局青秀分局"},
}

var demoSurnames = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
	"郭", "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田",
	"董", "潘", "袁", "蔡", "蒋", "余", "于", "杜", "叶", "程", "魏", "苏", "吕", "丁", "任", "卢", "姚", "沈", "钟",
	"姜", "崔", "谭", "陆", "范", "汪", "廖", "石", "金", "欧阳", "司马"}

var demoGivenMale = []rune("伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳建国志文博晨昊然轩睿")

var demoGivenFemale = []rune("芳娜敏静丽艳娟霞秀玲桂英梅琳萍雪婷颖倩洁慧莉晶欣怡佳瑶雅璐婧琪丹蕾薇菲彤悦")

var demoEthnicities = []string{"汉", "汉", "汉", "汉", "汉", "汉", "汉", "汉", "汉", "汉", "汉", "汉", "壮", "回",
	"满", "维吾尔", "苗", "彝", "土家", "藏", "蒙古"}

var demoStreets = []string{"人民路", "中山路", "解放路", "建设路", "和平路", "新华路", "文化路", "东风路", "花园路",
	"滨江路", "进港大道", "环市大道", "黄阁大道", "学府路", "青年路", "长江路", "黄河路", "朝阳路", "光明街", "幸福街"}

var (
	demoBirthFirst = time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC)
	demoBirthDays  = int(time.Date(2007, 12, 31, 0, 0, 0, 0, time.UTC).Sub(demoBirthFirst).Hours()/24) + 1
	// demoCardsUntil bounds issue dates, so demo data does not depend on
	// the day it is generated.
	demoCardsUntil = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
)

// demoBulkSeqs is how many sequence numbers (1..demoBulkSeqs) bulk demo
// residents use; 900..999 belong to the demo residents with portraits.
const demoBulkSeqs = 899

// DemoSpace is how many distinct bulk demo residents there can be.
var DemoSpace = uint64(len(demoPlaces)) * uint64(demoBirthDays) * demoBulkSeqs

// permute maps i < DemoSpace to a distinct position, scrambled by seed.
func permute(seed uint64, i uint64) uint64 {
	n := DemoSpace
	mult := uint64(1_000_003) + 2*(seed%1000)
	for gcd(mult, n) != 1 {
		mult += 2
	}
	return (i%n*mult + seed%n) % n
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// DemoRecord returns bulk demo resident number i (0 <= i < DemoSpace) for a
// seed. It has no portrait.
func DemoRecord(seed uint64, i int) Record {
	p := permute(seed, uint64(i))
	place := demoPlaces[p%uint64(len(demoPlaces))]
	p /= uint64(len(demoPlaces))
	birth := demoBirthFirst.AddDate(0, 0, int(p%uint64(demoBirthDays)))
	seq := int(p/uint64(demoBirthDays)) + 1
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	r := demoPerson(rng, place, birth, seq)
	switch n := rng.IntN(200); {
	case n == 0:
		r.Status = StatusDeceased
	case n == 1:
		r.Status = StatusCancelled
	}
	return r
}

// DemoPortraitRecord returns demo resident k (0 <= k < 50) of those with a
// portrait: registered in Guangzhou Nansha (440115), sequence 900+2k (+1
// for a man), so their ID numbers never collide with bulk residents'.
func DemoPortraitRecord(seed uint64, k int, sex Sex) Record {
	rng := rand.New(rand.NewPCG(seed^0x5eed, uint64(k)))
	birth := time.Date(1965, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(365*35))
	seq := 900 + 2*k
	if sex == Male {
		seq++
	}
	r := demoPerson(rng, demoPlaces[0], birth, seq)
	r.Status = StatusValid
	return r
}

func demoPerson(rng *rand.Rand, place demoPlace, birth time.Time, seq int) Record {
	id, err := MakeIDNumber(place.code, birth, seq)
	if err != nil {
		panic("registry: demo: " + err.Error()) // the tables are valid
	}
	given := demoGivenFemale
	if id.Sex() == Male {
		given = demoGivenMale
	}
	name := demoSurnames[rng.IntN(len(demoSurnames))] + string(given[rng.IntN(len(given))])
	if rng.IntN(3) > 0 {
		name += string(given[rng.IntN(len(given))])
	}
	// The current card was issued at 16 or later, by the end of 2025.
	first := birth.AddDate(16, 0, 0)
	if y2006 := time.Date(2006, 1, 1, 0, 0, 0, 0, time.UTC); first.Before(y2006) {
		first = y2006
	}
	span := int(demoCardsUntil.Sub(first).Hours()/24) + 1
	if span < 1 {
		span = 1
	}
	from := first.AddDate(0, 0, rng.IntN(span))
	if from.After(demoCardsUntil) {
		from = demoCardsUntil
	}
	// Cards issued before 26 last 10 years, before 46 20 years, later for
	// life (zero). A card that would have expired by the end of 2025 was
	// renewed on its expiry day, so every demo resident holds a current card.
	var until time.Time
	for {
		until = time.Time{}
		switch age := from.Year() - birth.Year(); {
		case age < 26:
			until = from.AddDate(10, 0, 0)
		case age < 46:
			until = from.AddDate(20, 0, 0)
		}
		if until.IsZero() || until.After(demoCardsUntil) {
			break
		}
		from = until
	}
	addr := place.region + demoStreets[rng.IntN(len(demoStreets))] + strconv.Itoa(1+rng.IntN(300)) + "号"
	if rng.IntN(2) == 0 {
		addr += strconv.Itoa(1+rng.IntN(30)) + "栋" + strconv.Itoa(101+rng.IntN(30)*100+rng.IntN(8)) + "室"
	}
	return Record{
		IDNumber: id, Name: name, Sex: id.Sex(), BirthDate: birth,
		Ethnicity: demoEthnicities[rng.IntN(len(demoEthnicities))],
		Address:   addr, Authority: place.authority,
		ValidFrom: from, ValidUntil: until, Status: StatusValid,
	}
}

// DemoFace is a labelled photo used as a demo portrait.
type DemoFace struct {
	// Person is the folder name, e.g. "obama".
	Person string
	// File is the photo's path inside the faces directory.
	File string
	Sex  Sex
}

// demoFaceSex records the sex of the people in the shared test photos; an
// unknown folder counts as male.
var demoFaceSex = map[string]Sex{"rose_leslie": Female}

// DemoFaces lists one photo per person folder of a faces directory (folder
// names sorted; in each, the first .jpg, .jpeg or .png by name). The folder
// "group" (photos with several faces) is skipped.
func DemoFaces(faces fs.FS) ([]DemoFace, error) {
	entries, err := fs.ReadDir(faces, ".")
	if err != nil {
		return nil, err
	}
	var out []DemoFace
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "group" || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		files, err := fs.ReadDir(faces, e.Name())
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, f := range files {
			switch strings.ToLower(path.Ext(f.Name())) {
			case ".jpg", ".jpeg", ".png":
				names = append(names, f.Name())
			}
		}
		if len(names) == 0 {
			continue
		}
		sort.Strings(names)
		sex := demoFaceSex[e.Name()]
		if sex == "" {
			sex = Male
		}
		out = append(out, DemoFace{Person: e.Name(), File: path.Join(e.Name(), names[0]), Sex: sex})
		if len(out) == 50 {
			break
		}
	}
	return out, nil
}

// DemoPortraitRecords returns the demo residents with portraits, one per
// face, with the portraits read from faces.
func DemoPortraitRecords(seed uint64, faces fs.FS, list []DemoFace) ([]Record, error) {
	out := make([]Record, 0, len(list))
	for k, f := range list {
		b, err := fs.ReadFile(faces, f.File)
		if err != nil {
			return nil, fmt.Errorf("registry: demo portrait: %w", err)
		}
		r := DemoPortraitRecord(seed, k, f.Sex)
		r.Portrait = b
		out = append(out, r)
	}
	return out, nil
}

// WriteCSV writes records as an import CSV (portraits inline as base64).
func WriteCSV(w io.Writer, header bool, records iter.Seq[Record]) error {
	cw := csv.NewWriter(w)
	if header {
		if err := cw.Write(Columns[:]); err != nil {
			return err
		}
	}
	var rowErr error
	var fields [numCols]string
	records(func(r Record) bool {
		fields[colID] = string(r.IDNumber)
		fields[colName] = r.Name
		fields[colSex] = string(r.Sex)
		fields[colBirth] = dateString(r.BirthDate)
		fields[colEthnicity] = r.Ethnicity
		fields[colAddress] = r.Address
		fields[colAuthority] = r.Authority
		fields[colValidFrom] = dateString(r.ValidFrom)
		fields[colValidUntil] = dateString(r.ValidUntil)
		if r.ValidUntil.IsZero() {
			fields[colValidUntil] = "长期"
		}
		fields[colStatus] = string(r.Status)
		fields[colPortrait] = ""
		if r.Portrait != nil {
			fields[colPortrait] = "base64:" + base64.StdEncoding.EncodeToString(r.Portrait)
		}
		rowErr = cw.Write(fields[:])
		return rowErr == nil
	})
	if rowErr != nil {
		return rowErr
	}
	cw.Flush()
	return cw.Error()
}

// errDemoCount is returned for a count beyond the demo number space.
var errDemoCount = errors.New("registry: demo count exceeds the demo number space")

// DemoRecords yields bulk demo residents 0..count-1.
func DemoRecords(seed uint64, count int) (iter.Seq[Record], error) {
	if count < 0 || uint64(count) > DemoSpace {
		return nil, errDemoCount
	}
	return func(yield func(Record) bool) {
		for i := 0; i < count; i++ {
			if !yield(DemoRecord(seed, i)) {
				return
			}
		}
	}, nil
}
