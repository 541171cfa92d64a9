package attest

import (
	"bytes"
	"fmt"
	"image/color"
	"path"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/vision-ios/vios/internal/ledger"
)

// charts draws the SVG charts committed beside the attestation: daily
// budget and rate utilisation against the ADR-012 limits and alert
// thresholds, and determinism per day against its target. It returns the
// files and, by chart, the file name the Markdown links to.
func charts(a *Attestation, mdPath string) ([]ledger.File, map[string]string, error) {
	base := strings.TrimSuffix(mdPath, ".md")
	names := map[string]string{}
	var files []ledger.File
	add := func(key string, p *plot.Plot) error {
		var b bytes.Buffer
		wt, err := p.WriterTo(7*vg.Inch, 3*vg.Inch, "svg")
		if err != nil {
			return err
		}
		if _, err := wt.WriteTo(&b); err != nil {
			return err
		}
		file := base + "_" + key + ".svg"
		files = append(files, ledger.File{Path: file, Data: b.Bytes()})
		names[key] = path.Base(file)
		return nil
	}
	labels := make([]string, len(a.Economics.Days))
	budget := make(plotter.Values, len(a.Economics.Days))
	rate := make(plotter.Values, len(a.Economics.Days))
	for i, d := range a.Economics.Days {
		labels[i] = d.Date[5:]
		budget[i] = 100 * d.CostUSD / a.Economics.DailyCapUSD
		rate[i] = 100 * float64(d.Summaries) / float64(a.Economics.DailyRateLimit)
	}
	if len(labels) > 0 {
		p := plot.New()
		p.Title.Text = "ADR-012: daily budget and summary rate used (%)"
		p.Y.Label.Text = "% of the daily limit"
		w := vg.Points(12)
		bb, err := plotter.NewBarChart(budget, w)
		if err != nil {
			return nil, nil, err
		}
		bb.Color = color.RGBA{R: 66, G: 133, B: 244, A: 255}
		bb.Offset = -w / 2
		br, err := plotter.NewBarChart(rate, w)
		if err != nil {
			return nil, nil, err
		}
		br.Color = color.RGBA{R: 251, G: 140, B: 0, A: 255}
		br.Offset = w / 2
		p.Add(bb, br)
		p.Legend.Add(fmt.Sprintf("spend / $%.0f cap", a.Economics.DailyCapUSD), bb)
		p.Legend.Add(fmt.Sprintf("summaries / %d limit", a.Economics.DailyRateLimit), br)
		p.Legend.Top = true
		for _, th := range []struct {
			y   float64
			rgb color.RGBA
		}{{80, color.RGBA{R: 230, G: 160, A: 255}}, {100, color.RGBA{R: 200, A: 255}}} {
			l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: th.y}, {X: float64(len(labels)) - 0.5, Y: th.y}})
			if err != nil {
				return nil, nil, err
			}
			l.Color, l.Dashes = th.rgb, []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(l)
		}
		p.Y.Min, p.Y.Max = 0, 110
		p.NominalX(labels...)
		if err := add("economics", p); err != nil {
			return nil, nil, err
		}
	}
	if days := a.Determinism.PerDay; len(days) > 0 {
		p := plot.New()
		p.Title.Text = "Determinism per day (replay, % of steps)"
		p.Y.Label.Text = "%"
		pts := make(plotter.XYs, len(days))
		dl := make([]string, len(days))
		for i, d := range days {
			pts[i] = plotter.XY{X: float64(i), Y: 100 * d.Rate}
			dl[i] = d.Day[5:]
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, nil, err
		}
		l.Color, s.Color = color.RGBA{G: 140, B: 80, A: 255}, color.RGBA{G: 140, B: 80, A: 255}
		target, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 95}, {X: float64(len(days) - 1), Y: 95}})
		if err != nil {
			return nil, nil, err
		}
		target.Color, target.Dashes = color.RGBA{R: 200, A: 255}, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l, s, target)
		p.Legend.Add("overall", l, s)
		p.Legend.Add("95% target", target)
		p.Legend.Top, p.Legend.Left = false, true
		p.Y.Min, p.Y.Max = 80, 101
		p.NominalX(dl...)
		if err := add("determinism", p); err != nil {
			return nil, nil, err
		}
	}
	return files, names, nil
}
