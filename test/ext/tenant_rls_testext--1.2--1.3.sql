DROP TABLE etr_xto.etr_xmember_r;
