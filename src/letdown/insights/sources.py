"""Where each figure the insights use comes from, in one place to cite from.

Every figure shown to the household names one of these; a figure that no source gives
says it is letdown's own choice (``LETDOWN_CHOICE``). The tables are in
``shared/design/supply.md``.
"""

from __future__ import annotations

KENT_1999 = "Kent et al. 1999, Exp Physiol 84:435 (storage capacity ~210 mL a side, wide range)"
COX_1996 = "Cox, Owens & Hartmann 1996, Exp Physiol 81:1007 (synthesis ~23 mL/h a side)"
DALY_1993 = "Daly, Owens & Hartmann 1993, Exp Physiol 78:209 (a feed removes 76 ± 20 %)"
DALY_1996 = "Daly, Kent, Owens & Hartmann 1996, Exp Physiol 81:861 (less per hour after long gaps)"
KENT_2008 = "Kent et al. 2008, Breastfeed Med 3:11 (15 min at comfort vacuum removes 65.5 %)"
LAI_2020 = "Lai et al. 2020, Arch Dis Child Fetal Neonatal Ed 105:266 (≥ 5 a day, no gap > 7 h)"
DEWEY_1986 = (
    "Dewey & Lönnerdal 1986, Acta Paediatr Scand 75:893 (one more a day: +124 g/day, "
    "about half drifting back within 1-2 weeks)"
)
KENT_2013 = "Kent et al. 2013, Breastfeed Med (106 → 126 mL a feed, 7.6 → 6.6 feeds a day)"
MICHAELSEN_1994 = "Michaelsen et al. 1994, Am J Clin Nutr 59:600 (781-855 mL/24 h)"
KENT_2006 = (
    "Kent et al. 2006, Pediatrics 117:e387 (788 mL a day: ≈ 33 mL an hour; a feed takes 67 %)"
)
ABM_4_2008 = "ABM Clinical Protocol #4, Mastitis (2008 revision): fever ≥ 38.5 °C"
ABM_36_2022 = "ABM Clinical Protocol #36 (Mitchell et al. 2022, Breastfeed Med 17:360)"
BUCK_2014 = "Buck et al. 2014, Breastfeed Med 9:56 (20 % still in pain at 8 weeks)"
FARIDI_2013 = "Faridi et al. 2013, Breastfeed Rev 21(3):27 (blood in early milk clears in 2-5 days)"
FLOWER_2003 = (
    "Flower 2003, Adventures in Tandem Nursing (secondary source; most notice a drop "
    "by mid-pregnancy, whatever the frequency)"
)
LETDOWN_CHOICE = "letdown's own threshold: no published figure"
MODEL = (
    "letdown's compartment model (an assumption, not a published model) with priors from "
    "Kent 1999, Cox 1996, Daly 1993 and Kent 2008"
)
