ALTER TABLE etr_xmember_r SET SCHEMA etr_xto;
